# A directory without a shard index in it is not read: one line, exit 1,
# nothing on stdout.  (One with an index is: see tests/cli/shards.)
mkdir d
t2m-unpack d
