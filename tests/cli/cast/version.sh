# --version prints the program's name and version; to a full device it
# fails like any other output.
t2m-cast --version > /dev/full 2> /dev/null
[ $? -eq 1 ] || exit 3
t2m-cast --version
