# fish completion for muse-sketch(1): event streams to a sketch stream.

# Completes the item after the last comma of the current token.
function __muse_list
    set -l head (string replace -r '[^,]*$' '' -- (commandline -ct))
    for w in $argv
        printf '%s%s\n' $head $w
    end
end

complete -c muse-sketch -l as-of -x -d 'Read this version of table directories'
complete -c muse-sketch -l authentic -x -d 'Authentic threshold A in seconds (default 900)'
complete -c muse-sketch -l bucket -x -d 'Only users of bucket B of N (B or B/N)'
complete -c muse-sketch -s b -l by -x -a '(__muse_list title asset date segment country)' -d 'Grain'
complete -c muse-sketch -s d -l date -x -d 'Count these days only'
complete -c muse-sketch -s f -l force -d 'Write binary output to a terminal'
complete -c muse-sketch -s h -l help -d 'Show help and exit'
complete -c muse-sketch -l lgk -x -a '(seq 4 21)' -d 'HyperLogLog precision (default 14)'
complete -c muse-sketch -l memory -x -a '256M 1G 4G' -d 'Work in passes that fit in SIZE'
complete -c muse-sketch -s o -l output -r -F -d 'Write FILE atomically instead of stdout'
complete -c muse-sketch -l progress -d 'Show progress even when stderr is not a terminal'
complete -c muse-sketch -l qualify -x -d 'Qualify threshold Q in seconds (default 60)'
complete -c muse-sketch -s q -l quiet -d 'No progress'
complete -c muse-sketch -l read-ahead -d 'Decode the blocks of input files on a second thread'
complete -c muse-sketch -s v -l verbose -d 'Say which version and files of a table directory are read'
complete -c muse-sketch -s V -l version -d 'Show the version and exit'
complete -c muse-sketch -l window -x -a '24h 12h 6h 1h 2d' -d 'Attribution window W (default 24h)'
