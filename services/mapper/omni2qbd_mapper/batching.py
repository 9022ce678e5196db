"""The mapper's consumers handle several messages of one tenant per transaction.

They are the shared ``TenantBatchingConsumer`` (``omni2qbd_shared.tenant_batching``: ack
after commit, a failing batch handled one by one, a batch per tenant) for the mapper's three
queues, each with its batch handler: for documents ``handlers.handle_documents`` (settings
and lists read once, months rebuilt once, one commit); for ``qb.results``
``handlers.handle_results`` (each touched COGS month rebuilt once instead of a journal version
per result); for ``qb.lists`` ``handlers.handle_lists_batch`` (the held entries checked once
against all the changes, instead of once per change, and the gateway publishes a change per
customer or vendor it adds).
"""

from __future__ import annotations

from omni2qbd_shared import messages as m
from omni2qbd_shared.tenant_batching import TenantBatchingConsumer

__all__ = [
    "BatchingDocumentConsumer",
    "BatchingListsConsumer",
    "BatchingResultsConsumer",
    "TenantBatchingConsumer",
]


class BatchingDocumentConsumer(TenantBatchingConsumer[m.Cin7DocumentMessage]):
    message_type = m.Cin7DocumentMessage


class BatchingResultsConsumer(TenantBatchingConsumer[m.ResultMessage]):
    message_type = m.ResultMessage


class BatchingListsConsumer(TenantBatchingConsumer[m.ListChangesMessage]):
    message_type = m.ListChangesMessage
