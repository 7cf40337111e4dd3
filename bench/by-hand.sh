#!/bin/sh
# The OpenClaw "Deploy on Fly.io" guide done by hand, command by command, as a person at a
# terminal types it (the guide's sections 1-5 and "Updates"), for `npm run bench` to compare
# with the action. Runs in the directory that holds the guide's fly.toml and the Dockerfile, so
# flyctl takes the app from fly.toml, as in the guide.
#
#   by-hand.sh setup   guide 1-4: apps create, volumes create, secrets set, deploy (not timed)
#   by-hand.sh push    one change of secrets, gateway config and machine command on the deployed
#                      app, the guide's way: `secrets set` (no --stage: a rolling restart),
#                      `deploy`, `machine update --command` (the guide: a deploy resets the
#                      command, so re-apply it after), the config through `ssh console` + `tee`
#                      and `machine restart`, then `logs --no-tail` until the gateway is ready.
#
# Environment: FLY (the flyctl to run; the bench passes the stand-in's), APP, GATEWAY_TOKEN,
# ANTHROPIC_KEY, MACHINE_COMMAND, GATEWAY_CONFIG (a local openclaw.json), POLL_SECONDS (1).
# The guide passes secret values as `fly secrets set NAME=VALUE` arguments; so does this script
# (bench values only; the action never does: it stages them on stdin).
set -eu
FLY=${FLY:-fly}
POLL_SECONDS=${POLL_SECONDS:-1}

case "${1:-}" in
setup)
  # 1) the app and its volume. volumes create asks to confirm; -y answers for the person.
  $FLY apps create "$APP"
  $FLY volumes create openclaw_data --size 1 --region iad -y
  # 3) secrets
  $FLY secrets set OPENCLAW_GATEWAY_TOKEN="$GATEWAY_TOKEN"
  $FLY secrets set ANTHROPIC_API_KEY="$ANTHROPIC_KEY"
  # 4) deploy
  $FLY deploy
  ;;
push)
  # 3) the changed provider key: without --stage, `secrets set` restarts every machine.
  $FLY secrets set ANTHROPIC_API_KEY="$ANTHROPIC_KEY"
  # 4) the new release.
  $FLY deploy
  # Updates: "Get machine ID" (fly machines list; -q prints just the IDs), then the command.
  id=$($FLY machines list -q | head -n 1)
  $FLY machine update "$id" --command "$MACHINE_COMMAND" -y
  # 5) the config file over ssh (troubleshooting: `echo '...' | fly ssh console -C "tee ..."`),
  # then "restart to apply".
  $FLY ssh console -C "tee /data/openclaw.json" <"$GATEWAY_CONFIG" >/dev/null
  $FLY machine restart "$id"
  # `fly logs --no-tail` until the gateway says it is ready. Log times have whole seconds: a line
  # later than the second the restart returned in comes from the restarted gateway.
  mark=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  esc=$(printf '\033')
  until $FLY logs --no-tail | sed "s/$esc\[[0-9;]*m//g" | awk -v mark="$mark" '$1 > mark && /\[gateway\] (ready|listening on ws:)/ { found = 1 } END { exit !found }'; do
    sleep "$POLL_SECONDS"
  done
  ;;
*)
  echo "usage: by-hand.sh setup|push" >&2
  exit 2
  ;;
esac
