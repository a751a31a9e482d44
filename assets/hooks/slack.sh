#!/bin/sh
# slack.sh: a relman hook (SPEC §7 "Hooks") that posts one line about a deploy,
# switch, rollback or refused release to a chat's incoming webhook (Slack;
# Mattermost and Rocket.Chat take the same {"text": ...} payload).
#
#   [hooks]
#   after_deploy   = "/etc/relman/hooks/slack.sh"
#   after_switch   = "/etc/relman/hooks/slack.sh"
#   after_rollback = "/etc/relman/hooks/slack.sh"
#   on_refuse      = "/etc/relman/hooks/slack.sh"
#
# Needs curl, and SLACK_WEBHOOK_URL in relman's environment (keep the URL out of
# the config file: it is a secret). relman gives the hook RELMAN_ACTION (deploy,
# switch, rollback, refuse), RELMAN_HOSTS, RELMAN_FROM, RELMAN_TO, RELMAN_EXIT and
# the command's JSON result on stdin; with jq on PATH the hosts that did not end
# ok are named. A failing or slow post never changes relman's exit code (relman
# kills a hook after hooks.timeout, 60 s by default; curl gives up after 20 s).
set -u

url=${SLACK_WEBHOOK_URL:-}
if [ -z "$url" ]; then
    echo "slack.sh: SLACK_WEBHOOK_URL is not set: nothing posted" >&2
    exit 2
fi

result=$(cat)
failed=
if command -v jq >/dev/null 2>&1; then
    failed=$(printf '%s\n' "$result" |
        jq -r '[.hosts[]? | select(.ok == false) | .name] | join(" ")' 2>/dev/null) || failed=
fi

action=${RELMAN_ACTION:-?}
hosts=${RELMAN_HOSTS:-?}
from=${RELMAN_FROM:-no release}
to=${RELMAN_TO:-no release}
code=${RELMAN_EXIT:-?}
case $action:$code in
refuse:*) text=":no_entry: relman REFUSED $to on $hosts: a guard failed, every host stays on $from" ;;
*:0) text=":white_check_mark: relman $action on $hosts: $from -> $to" ;;
*) text=":warning: relman $action FAILED (exit $code) on $hosts: $from -> $to" ;;
esac
if [ -n "$failed" ]; then
    text="$text (not ok: $failed)"
fi

# As a JSON string: control characters dropped, backslash and quote escaped.
esc=$(printf '%s' "$text" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
exec curl -fsS --max-time 20 -H 'Content-Type: application/json' \
    --data-binary "{\"text\":\"$esc\"}" "$url"
