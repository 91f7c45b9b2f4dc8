# A directory is read through the index in it: its one *.index.json; of
# a .bin and a safetensors index, the safetensors one; any other choice
# is refused (exit 1, nothing written).  Dot files are not indexes.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" || exit 3
bad=0
. "$T2M_TOP/tests/lib/fails.sh"
source() {
	t2m-unpack "$1" | t2m-ls -l | sed -n 's/^info source=//p'
}

mkdir both
cp bin/* both/ && cp st/*.* both/
source both
cp both/model.safetensors.index.json both/.model.safetensors.index.json
source both
rm both/model.safetensors.index.json
source both
cp both/pytorch_model.bin.index.json both/other.bin.index.json
fails t2m-unpack both
cp st/model.safetensors.index.json both/a.safetensors.index.json
cp st/model.safetensors.index.json both/b.safetensors.index.json
fails t2m-unpack both
mkdir none
: > none/model.safetensors
fails t2m-unpack none
# An index that is a directory is not one.
mkdir dir.index.json
mv none/model.safetensors dir.index.json/
fails t2m-unpack dir.index.json
exit $bad
