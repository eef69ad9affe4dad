"""The audit log: every execution and refusal, append-only and hash-chained, beside the data."""

from skipper.audit.chain import VerifyReport
from skipper.audit.checkpoints import AuditKey
from skipper.audit.log import AuditLog
from skipper.audit.records import (
    GENESIS,
    AuditDraft,
    AuditErrorInfo,
    AuditRecord,
    new_id,
)
from skipper.audit.records import digest as _digest
from skipper.fingerprint import hash_result, hash_sql

__all__ = ["GENESIS", "AuditDraft", "AuditErrorInfo", "AuditKey", "AuditLog", "AuditRecord",
           "VerifyReport", "_digest", "hash_result", "hash_sql", "new_id"]
