# An empty file is not a checkpoint: one line, exit 1, nothing on stdout.
: > empty.st
t2m-unpack empty.st
