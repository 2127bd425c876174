# shellcheck shell=bash
# Sourced by the MySQL image's entrypoint (docker-entrypoint-initdb.d) once, when it initialises an empty data
# directory, after it has created MYSQL_DATABASE. Not executable on purpose: sourced, it can use the
# entrypoint's docker_process_sql, which logs in as root over the socket.
#
# The service's own user: its database only, and only what the service and its migrations use (tables,
# indexes, foreign keys, CHECK constraints; no DROP, no other database, no server-wide privilege).
: "${MYSQL_DATABASE:?}" "${ORDER_TIMEOUT_DB_USER:?}" "${ORDER_TIMEOUT_DB_PASSWORD:?}"

# A SQL string literal: quotes doubled, backslashes escaped.
sql_string() {
  local text=${1//\\/\\\\}
  printf "'%s'" "${text//\'/\'\'}"
}

order_timeout_user="$(sql_string "$ORDER_TIMEOUT_DB_USER")@'%'"
docker_process_sql <<-EOSQL
	CREATE USER IF NOT EXISTS ${order_timeout_user} IDENTIFIED BY $(sql_string "$ORDER_TIMEOUT_DB_PASSWORD");
	GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES ON \`${MYSQL_DATABASE}\`.* TO ${order_timeout_user};
EOSQL
unset order_timeout_user
