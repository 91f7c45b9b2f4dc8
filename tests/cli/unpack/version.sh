# --version prints the program's name and version.
t2m-unpack --version
