#!/bin/sh
# Makes the secret files compose.yaml reads (once; an existing file is kept): the database
# password, the database URL with it, and telesip's secret key. The bot token is yours to add:
#   printf '%s' '123456:ABC...' > secrets/bot_token
set -eu
cd "$(dirname "$0")"
# Compose mounts each file as it is on this host, with its owner and mode, and the containers
# run as their own users: the files are readable (0644) inside a directory only root can
# enter (0700).
umask 022
mkdir -p secrets
chmod 0700 secrets
[ -s secrets/db_password ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > secrets/db_password
[ -s secrets/database_url ] || printf 'postgresql://telesip:%s@db/telesip\n' "$(cat secrets/db_password)" > secrets/database_url
[ -s secrets/secret_key ] || python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > secrets/secret_key
ls -l secrets
[ -s secrets/bot_token ] || echo "now write the bot's token to $(pwd)/secrets/bot_token" >&2
