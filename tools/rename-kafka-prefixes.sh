#!/bin/sh
# Renames user/kafka's functions to the module prefixes of user/kafka/README.md
# ("Names"): broker_ (the core and its response queue), kr_/kw_ (the codec),
# api_ (request handlers and their helpers), group_, topic_, meta_, prod_,
# retention_. Mechanical and idempotent (each old name is matched as a whole
# word, so a second run changes nothing); run it from the top of a tree, on
# the default paths or on the ones given:
#
#   sh tools/rename-kafka-prefixes.sh [path...]
#
# Only files that name the broker's internals are touched (the old names are
# generic: resp_new, conn_kick), so the default paths are the library, its
# tests, fuzzers and hosted programs, and the docs. The C files it changed
# are then run through clang-format (.clang-format), since a longer name can
# push a line past the limit `make check` enforces.
set -eu

[ $# -gt 0 ] || set -- user/kafka tests/host/broker tests/fuzz/broker hosted/broker docs

sed_script='
s/\bb_alloc\b/broker_alloc/g
s/\bb_free\b/broker_free/g
s/\bb_log\b/broker_log/g
s/\bresp_new\b/broker_resp_new/g
s/\bresp_finish\b/broker_resp_finish/g
s/\bresp_free\b/broker_resp_free/g
s/\bresp_ready\b/broker_resp_ready/g
s/\bresp_wait_flush\b/broker_resp_wait_flush/g
s/\bconn_kick\b/broker_conn_kick/g
s/\bfetch_poll\b/api_fetch_poll/g
s/\bfetch_drop_topic\b/api_fetch_drop_topic/g
s/\bfetch_sessions_free\b/api_fetch_sessions_free/g
s/\bbatch_check\b/api_batch_check/g
s/\bbatch_is_idempotent\b/prod_batch_is_idempotent/g
s/\bofflog_apply\b/group_offlog_apply/g
s/\bofflog_snapshot\b/group_offlog_snapshot/g
s/\boffsets_load\b/meta_offsets_load/g
s/\btconf_decode\b/topic_conf_decode/g
s/\btconf_default\b/topic_conf_default/g
s/\btconf_encode\b/topic_conf_encode/g
s/\btconf_list\b/topic_conf_list/g
s/\btconf_set\b/topic_conf_set/g
'

grep -rlwE 'b_alloc|b_free|b_log|resp_(new|finish|free|ready|wait_flush)|conn_kick|fetch_(poll|drop_topic|sessions_free)|batch_check|batch_is_idempotent|offlog_(apply|snapshot)|offsets_load|tconf_(decode|default|encode|list|set)' \
	--include='*.c' --include='*.h' --include='*.md' "$@" 2>/dev/null |
	while IFS= read -r f; do
		sed -i "$sed_script" "$f"
		case "$f" in *.c | *.h) clang-format -i "$f" ;; esac
	done
