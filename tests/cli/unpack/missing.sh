# A file that is not there: its name and the system's reason, exit 1.
t2m-unpack no-such.st
