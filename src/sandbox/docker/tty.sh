# Starts a command on a terminal of the size the user has: the engine can resize an exec only once
# it runs (ConsoleSize at create needs API 1.42), so a command that asks its size at once would
# otherwise see 0x0. Run by the docker backend as: sh -c "$(cat tty.sh)" tty.sh ROWS COLS COMMAND.
stty rows "$1" cols "$2" 2>/dev/null
exec /bin/sh -c "$3"
