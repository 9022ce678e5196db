"""The bookkeeper's and operator's workflow as plain async functions over a unit of work.

The JSON API (``omni2qbd_gateway.api``), the console and the command line all call these;
none of them queries tenant-owned tables itself. Every tenant-owned query goes through
``scope.TenantScope`` (which uses ``omni2qbd_shared.db.tenancy.scoped``).
"""
