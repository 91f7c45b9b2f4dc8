# bash completion for t2m's programs: t2m-analyze, t2m-cast, t2m-ls,
# t2m-pack, t2m-rename, t2m-shards, t2m-transpose and t2m-unpack.
#
# What each program takes is read from its -h, so that this file never
# falls behind: a line "  -x arg  text" is an option with an argument, a
# line "  -x  text" one without.  An argument completes as its name says:
# a type as the -h line lists them, a format from the two there are, a
# .json file for config.json and map.json, any file for report; a
# pattern, key, prefix, size or count not at all.  Operands complete as
# files and directories.
#
# Installed as share/bash-completion/completions/t2m-<verb>, one copy per
# program, where bash-completion finds it by the command's name; or
# source it from ~/.bashrc.

_t2m()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD - 1]}
	local help line opts='' want='' words IFS=$' \t\n'
	local re='^  -([A-Za-z])( ([^ ]+))?  +(.*)$'

	help=$("$1" -h 2>/dev/null) || return 0
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		opts+=" -${BASH_REMATCH[1]}"
		if [[ -n ${BASH_REMATCH[3]} && $prev == "-${BASH_REMATCH[1]}" ]]; then
			want=${BASH_REMATCH[3]}
			words=${BASH_REMATCH[4]}
		fi
	done <<<"$help"

	COMPREPLY=()
	if [[ -n $want ]]; then
		case $want in
		type)
			# The types the -h line names, "F16, BF16 or F32".
			words=${words//,/ }
			words=${words//[^A-Z0-9 ]/}
			COMPREPLY=($(compgen -W "$words" -- \
			    "$(printf '%s' "$cur" | tr a-z A-Z)"))
			;;
		format)
			COMPREPLY=($(compgen -W "safetensors torch" -- "$cur"))
			;;
		*.json)
			compopt -o filenames 2>/dev/null
			IFS=$'\n'
			COMPREPLY=($(compgen -f -X '!*.json' -- "$cur") \
			    $(compgen -d -- "$cur"))
			;;
		report)
			compopt -o filenames 2>/dev/null
			IFS=$'\n'
			COMPREPLY=($(compgen -f -- "$cur"))
			;;
		esac
		return 0
	fi
	if [[ $cur == --* && $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		compopt -o filenames 2>/dev/null
		IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
	return 0
}

complete -F _t2m t2m-analyze t2m-cast t2m-ls t2m-pack t2m-rename \
    t2m-shards t2m-transpose t2m-unpack
