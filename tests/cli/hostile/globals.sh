# Unknown GLOBALs are inert.  A checkpoint whose pickle calls os.system,
# posix.system, builtins.eval and exec (also as __builtin__), and
# subprocess.Popen - through REDUCE, INST, STACK_GLOBAL, NEWOBJ, BUILD,
# copyreg._reconstructor and getattr - next to a real tensor, zip and
# legacy: the tensor converts, nothing is run (no file 'pwned' appears),
# and -l lists each call as the object it would have made.  Tensors
# inside an unknown object are skipped with a warning (in its state or in
# its arguments), and -k reaches them; a tensor subclass rebuilt through
# os.system fails.
# The cases and their expectations: tests/lib/hostile.py, fam_globals.
set -u
status=0
$PYTHON -m hostile globals globals || exit 3
$PYTHON -m hostile check globals || status=1
if [ -n "$(find . -name 'pwned*')" ]; then
	echo "FAIL: something ran: $(find . -name 'pwned*')"
	status=1
fi
exit $status
