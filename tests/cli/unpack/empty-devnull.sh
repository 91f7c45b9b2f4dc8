# /dev/null as the operand: one line, exit 1, nothing on stdout.
t2m-unpack /dev/null
