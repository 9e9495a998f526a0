# fish completion for muse-import(1): DataSketches HLL images to a sketch stream.

complete -c muse-import -s f -l force -d 'Write binary output to a terminal'
complete -c muse-import -l hash -x -a 'datasketches xxh3' -d "How the images' items were hashed"
complete -c muse-import -s h -l help -d 'Show help and exit'
complete -c muse-import -l lgk -x -a '10 11 12 14 16' -d 'lgK of the stream (4..21)'
complete -c muse-import -l like -r -F -d 'Take window, thresholds, grain and lgK from a store'
complete -c muse-import -s o -l output -r -F -d 'Write FILE atomically instead of stdout'
complete -c muse-import -s V -l version -d 'Show the version and exit'
