package mysql

import "strings"

// queries holds the statements of a Store, rendered for its table prefix
// once, at Open.
type queries struct {
	revoke, suspend, resume, pruneSelect, pruneDelete, blocked, blocks, blocksEvery string

	// blockedIn[i] is blocked with a list of 1<<i ids, up to maxKeptIDs.
	blockedIn [7]string

	createApproval, approval, decideApproval, approvalState, consumeCandidate, consume, pendingApproval string

	policy, policyCreate, policyReplace string

	appendAudit, auditHas, auditHead string

	createKey, keyByHash, key, keys, createHop string

	bumpSeq, readSeq, logChange, trimLog, pollLog string

	takeRate, pruneRates string
}

func newQueries(prefix string) queries {
	t := func(q string) string { return table(prefix, q) }
	q := queries{
		revoke: t(sqlRevoke), suspend: t(sqlSuspend), resume: t(sqlResume),
		pruneSelect: t(sqlPruneSelect), pruneDelete: t(sqlPruneDelete),
		blocked: t(sqlBlocked), blocks: t(sqlBlocks), blocksEvery: t(sqlBlocksEvery),

		createApproval: t(sqlCreateApproval), approval: t(sqlApproval), decideApproval: t(sqlDecideApproval),
		approvalState: t(sqlApprovalState), consumeCandidate: t(sqlConsumeCandidate), consume: t(sqlConsume),
		pendingApproval: t(sqlPendingApproval),

		policy: t(sqlPolicy), policyCreate: t(sqlPolicyCreate), policyReplace: t(sqlPolicyReplace),

		appendAudit: t(sqlAppendAudit), auditHas: t(sqlAuditHas), auditHead: t(sqlAuditHead),

		createKey: t(sqlCreateKey), keyByHash: t(sqlKeyByHash), key: t(sqlKey), keys: t(sqlKeys),
		createHop: t(sqlCreateHop),

		bumpSeq: t(sqlBumpSeq), readSeq: t(sqlReadSeq), logChange: t(sqlLogChange), trimLog: t(sqlTrimLog),
		pollLog: t(sqlPollLog),

		takeRate: t(sqlTakeRate), pruneRates: t(sqlPruneRates),
	}
	for i := range q.blockedIn {
		q.blockedIn[i] = q.blocked + "(?" + strings.Repeat(", ?", 1<<i-1) + ")"
	}
	return q
}
