"""The rows of the emulated ``pg_catalog`` and ``information_schema``, built from a
backend's introspected schema.

Every relation is declared once in :data:`PG_TABLES` / :data:`IS_TABLES` with
PostgreSQL 15's column names and types; :func:`build_rows` fills them. OIDs follow
PostgreSQL's conventions: built-in objects keep their real OIDs (``pg_catalog`` 11,
``public`` 2200, ``int4`` 23, ``pg_class`` 1259), user objects count from 16384.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ColumnInfo, ForeignKey, SchemaInfo, TableInfo
from gateway.pgtypes import BY_OID, TYPES, format_type, typmod_of

NS_CATALOG = 11
NS_PUBLIC = 2200
NS_INFO = 13184
NS_TOAST = 99
OWNER = 10
OWNER_NAME = "postgres"  # the bootstrap superuser every PostgreSQL has
DB_OWNER_ROLE = 6171  # pg_database_owner, owner of schema public since PostgreSQL 15
FIRST_USER_OID = 16384
UTF8 = 6

_KEYWORDS = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary", "both",
    "case", "cast", "check", "collate", "column", "concurrently", "constraint", "create", "cross", "current_catalog",
    "current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign",
    "freeze", "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect", "into",
    "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural",
    "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary",
    "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric", "table",
    "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose",
    "when", "where", "window", "with",
}


def quote_ident(name: str) -> str:
    """PostgreSQL's ``quote_ident``: quoted unless all lower-case letters, digits, ``_``
    (not starting with a digit) and not a reserved word."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) and name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# --- relation declarations ---------------------------------------------------------------

Cols = list[tuple[str, str]]


def _cols(spec: str) -> Cols:
    out = []
    for part in spec.split(","):
        name, typ = part.split()
        out.append((name, typ))
    return out


PG_TABLES: dict[str, Cols] = {
    "pg_namespace": _cols("oid oid, nspname name, nspowner oid, nspacl _aclitem"),
    "pg_class": _cols(
        "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, "
        "relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, "
        "relhasindex bool, relisshared bool, relpersistence char, relkind char, relnatts int2, relchecks int2, "
        "relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool, "
        "relispopulated bool, relreplident char, relispartition bool, relrewrite oid, relfrozenxid xid, "
        "relminmxid xid, relacl _aclitem, reloptions _text, relpartbound text"
    ),
    "pg_attribute": _cols(
        "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, "
        "attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, "
        "attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, "
        "attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl _aclitem, "
        "attoptions _text, attfdwoptions _text, attmissingval text"
    ),
    "pg_type": _cols(
        "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, "
        "typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, typsubscript regproc, "
        "typelem oid, typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc, "
        "typmodin regproc, typmodout regproc, typanalyze regproc, typalign char, typstorage char, typnotnull bool, "
        "typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin text, typdefault text, "
        "typacl _aclitem"
    ),
    "pg_constraint": _cols(
        "oid oid, conname name, connamespace oid, contype char, condeferrable bool, condeferred bool, "
        "convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, "
        "confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, "
        "connoinherit bool, conkey _int2, confkey _int2, conpfeqop _oid, conppeqop _oid, conffeqop _oid, "
        "confdelsetcols _int2, conexclop _oid, conbin text"
    ),
    "pg_index": _cols(
        "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, "
        "indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool, "
        "indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2vector, "
        "indcollation oidvector, indclass oidvector, indoption int2vector, indexprs text, indpred text"
    ),
    "pg_attrdef": _cols("oid oid, adrelid oid, adnum int2, adbin text"),
    "pg_database": _cols(
        "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, "
        "datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid, "
        "datcollate text, datctype text, daticulocale text, datcollversion text, datacl _aclitem"
    ),
    "pg_roles": _cols(
        "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, "
        "rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, "
        "rolconfig _text, oid oid"
    ),
    "pg_authid": _cols(
        "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, "
        "rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, "
        "rolvaliduntil timestamptz"
    ),
    "pg_user": _cols(
        "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, "
        "passwd text, valuntil timestamptz, useconfig _text"
    ),
    "pg_auth_members": _cols("oid oid, roleid oid, member oid, grantor oid, admin_option bool"),
    "pg_am": _cols("oid oid, amname name, amhandler regproc, amtype char"),
    "pg_tablespace": _cols("oid oid, spcname name, spcowner oid, spcacl _aclitem, spcoptions _text"),
    "pg_collation": _cols(
        "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, collisdeterministic bool, "
        "collencoding int4, collcollate text, collctype text, colliculocale text, collversion text"
    ),
    "pg_description": _cols("objoid oid, classoid oid, objsubid int4, description text"),
    "pg_shdescription": _cols("objoid oid, classoid oid, description text"),
    "pg_proc": _cols(
        "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4, "
        "provariadic oid, prosupport regproc, prokind char, prosecdef bool, proleakproof bool, proisstrict bool, "
        "proretset bool, provolatile char, proparallel char, pronargs int2, pronargdefaults int2, prorettype oid, "
        "proargtypes oidvector, proallargtypes _oid, proargmodes _char, proargnames _text, proargdefaults text, "
        "protrftypes _oid, prosrc text, probin text, prosqlbody text, proconfig _text, proacl _aclitem"
    ),
    "pg_language": _cols(
        "oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool, lanplcallfoid oid, laninline oid, "
        "lanvalidator oid, lanacl _aclitem"
    ),
    "pg_inherits": _cols("inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool"),
    "pg_trigger": _cols(
        "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled char, "
        "tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, "
        "tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs bytea, tgqual text, tgoldtable name, "
        "tgnewtable name"
    ),
    "pg_rewrite": _cols(
        "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, ev_qual text, "
        "ev_action text"
    ),
    "pg_policy": _cols(
        "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles _oid, polqual text, "
        "polwithcheck text"
    ),
    "pg_statistic_ext": _cols(
        "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4, "
        "stxkeys int2vector, stxkind _char, stxexprs text"
    ),
    "pg_publication": _cols(
        "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, "
        "pubtruncate bool, pubviaroot bool"
    ),
    "pg_publication_rel": _cols("oid oid, prpubid oid, prrelid oid, prqual text, prattrs int2vector"),
    "pg_publication_namespace": _cols("oid oid, pnpubid oid, pnnspid oid"),
    "pg_subscription": _cols("oid oid, subdbid oid, subname name, subowner oid, subenabled bool"),
    "pg_extension": _cols(
        "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text, "
        "extconfig _oid, extcondition _text"
    ),
    "pg_foreign_table": _cols("ftrelid oid, ftserver oid, ftoptions _text"),
    "pg_foreign_server": _cols(
        "oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text, srvversion text, srvacl _aclitem, "
        "srvoptions _text"
    ),
    "pg_foreign_data_wrapper": _cols(
        "oid oid, fdwname name, fdwowner oid, fdwhandler oid, fdwvalidator oid, fdwacl _aclitem, fdwoptions _text"
    ),
    "pg_partitioned_table": _cols(
        "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs int2vector, partclass oidvector, "
        "partcollation oidvector, partexprs text"
    ),
    "pg_sequence": _cols(
        "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, "
        "seqcycle bool"
    ),
    "pg_depend": _cols(
        "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char"
    ),
    "pg_enum": _cols("oid oid, enumtypid oid, enumsortorder float4, enumlabel name"),
    "pg_range": _cols(
        "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc oid, rngcanonical regproc, "
        "rngsubdiff regproc"
    ),
    "pg_cast": _cols("oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char, castmethod char"),
    "pg_operator": _cols(
        "oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char, oprcanmerge bool, oprcanhash bool, "
        "oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid, oprcode regproc, oprrest regproc, "
        "oprjoin regproc"
    ),
    "pg_event_trigger": _cols(
        "oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid, evtenabled char, evttags _text"
    ),
    "pg_conversion": _cols(
        "oid oid, conname name, connamespace oid, conowner oid, conforencoding int4, contoencoding int4, "
        "conproc regproc, condefault bool"
    ),
    "pg_opclass": _cols(
        "oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid, opcfamily oid, opcintype oid, "
        "opcdefault bool, opckeytype oid"
    ),
    "pg_locks": _cols(
        "locktype text, database oid, relation oid, page int4, tuple int2, virtualxid text, transactionid xid, "
        "classid oid, objid oid, objsubid int2, virtualtransaction text, pid int4, mode text, granted bool, "
        "fastpath bool, waitstart timestamptz"
    ),
    "pg_tables": _cols(
        "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, "
        "hastriggers bool, rowsecurity bool"
    ),
    "pg_views": _cols("schemaname name, viewname name, viewowner name, definition text"),
    "pg_matviews": _cols(
        "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, ispopulated bool, "
        "definition text"
    ),
    "pg_indexes": _cols("schemaname name, tablename name, indexname name, tablespace name, indexdef text"),
    "pg_sequences": _cols(
        "schemaname name, sequencename name, sequenceowner name, data_type regtype, start_value int8, "
        "min_value int8, max_value int8, increment_by int8, cycle bool, cache_size int8, last_value int8"
    ),
    "pg_stat_user_tables": _cols(
        "relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8, idx_scan int8, "
        "idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, n_tup_hot_upd int8, n_live_tup int8, "
        "n_dead_tup int8, n_mod_since_analyze int8, n_ins_since_vacuum int8, last_vacuum timestamptz, "
        "last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8, "
        "autovacuum_count int8, analyze_count int8, autoanalyze_count int8"
    ),
    "pg_prepared_statements": _cols(
        "name text, statement text, prepare_time timestamptz, parameter_types _regtype, from_sql bool, "
        "generic_plans int8, custom_plans int8"
    ),
    "pg_available_extensions": _cols("name name, default_version text, installed_version text, comment text"),
    "pg_timezone_names": _cols("name text, abbrev text, utc_offset interval, is_dst bool"),
}

# per-session relations, created as temporary tables of each session's catalog cursor
SESSION_TABLES: dict[str, Cols] = {
    "pg_settings": _cols(
        "name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, "
        "vartype text, source text, min_val text, max_val text, enumvals _text, boot_val text, reset_val text, "
        "sourcefile text, sourceline int4, pending_restart bool"
    ),
    "pg_cursors": _cols(
        "name text, statement text, is_holdable bool, is_binary bool, is_scrollable bool, creation_time timestamptz"
    ),
    "pg_stat_activity": _cols(
        "datid oid, datname name, pid int4, leader_pid int4, usesysid oid, usename name, application_name text, "
        "client_addr inet, client_hostname text, client_port int4, backend_start timestamptz, "
        "xact_start timestamptz, query_start timestamptz, state_change timestamptz, wait_event_type text, "
        "wait_event text, state text, backend_xid xid, backend_xmin xid, query_id int8, query text, "
        "backend_type text"
    ),
}

IS_TABLES: dict[str, Cols] = {
    "schemata": _cols(
        "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, "
        "default_character_set_schema name, default_character_set_name name, sql_path text"
    ),
    "tables": _cols(
        "table_catalog name, table_schema name, table_name name, table_type text, "
        "self_referencing_column_name name, reference_generation text, user_defined_type_catalog name, "
        "user_defined_type_schema name, user_defined_type_name name, is_insertable_into text, is_typed text, "
        "commit_action text"
    ),
    "columns": _cols(
        "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, "
        "column_default text, is_nullable text, data_type text, character_maximum_length int4, "
        "character_octet_length int4, numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, "
        "datetime_precision int4, interval_type text, interval_precision int4, character_set_catalog name, "
        "character_set_schema name, character_set_name name, collation_catalog name, collation_schema name, "
        "collation_name name, domain_catalog name, domain_schema name, domain_name name, udt_catalog name, "
        "udt_schema name, udt_name name, scope_catalog name, scope_schema name, scope_name name, "
        "maximum_cardinality int4, dtd_identifier name, is_self_referencing text, is_identity text, "
        "identity_generation text, identity_start text, identity_increment text, identity_maximum text, "
        "identity_minimum text, identity_cycle text, is_generated text, generation_expression text, "
        "is_updatable text"
    ),
    "views": _cols(
        "table_catalog name, table_schema name, table_name name, view_definition text, check_option text, "
        "is_updatable text, is_insertable_into text, is_trigger_updatable text, is_trigger_deletable text, "
        "is_trigger_insertable_into text"
    ),
    "table_constraints": _cols(
        "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, "
        "table_schema name, table_name name, constraint_type text, is_deferrable text, initially_deferred text, "
        "enforced text, nulls_distinct text"
    ),
    "key_column_usage": _cols(
        "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, "
        "table_schema name, table_name name, column_name name, ordinal_position int4, "
        "position_in_unique_constraint int4"
    ),
    "referential_constraints": _cols(
        "constraint_catalog name, constraint_schema name, constraint_name name, unique_constraint_catalog name, "
        "unique_constraint_schema name, unique_constraint_name name, match_option text, update_rule text, "
        "delete_rule text"
    ),
    "constraint_column_usage": _cols(
        "table_catalog name, table_schema name, table_name name, column_name name, constraint_catalog name, "
        "constraint_schema name, constraint_name name"
    ),
    "constraint_table_usage": _cols(
        "table_catalog name, table_schema name, table_name name, constraint_catalog name, "
        "constraint_schema name, constraint_name name"
    ),
    "check_constraints": _cols(
        "constraint_catalog name, constraint_schema name, constraint_name name, check_clause text"
    ),
    "routines": _cols(
        "specific_catalog name, specific_schema name, specific_name name, routine_catalog name, "
        "routine_schema name, routine_name name, routine_type text, data_type text, type_udt_name name, "
        "routine_body text, routine_definition text, external_language text, is_deterministic text, "
        "security_type text"
    ),
    "parameters": _cols(
        "specific_catalog name, specific_schema name, specific_name name, ordinal_position int4, "
        "parameter_mode text, parameter_name name, data_type text, udt_name name"
    ),
    "sequences": _cols(
        "sequence_catalog name, sequence_schema name, sequence_name name, data_type text, numeric_precision int4, "
        "numeric_precision_radix int4, numeric_scale int4, start_value text, minimum_value text, "
        "maximum_value text, increment text, cycle_option text"
    ),
    "triggers": _cols(
        "trigger_catalog name, trigger_schema name, trigger_name name, event_manipulation text, "
        "event_object_catalog name, event_object_schema name, event_object_table name, action_order int4, "
        "action_condition text, action_statement text, action_orientation text, action_timing text"
    ),
    "character_sets": _cols(
        "character_set_catalog name, character_set_schema name, character_set_name name, "
        "character_repertoire name, form_of_use name, default_collate_catalog name, default_collate_schema name, "
        "default_collate_name name"
    ),
    "enabled_roles": _cols("role_name name"),
    "applicable_roles": _cols("grantee name, role_name name, is_grantable text"),
    "table_privileges": _cols(
        "grantor name, grantee name, table_catalog name, table_schema name, table_name name, "
        "privilege_type text, is_grantable text, with_hierarchy text"
    ),
    "column_privileges": _cols(
        "grantor name, grantee name, table_catalog name, table_schema name, table_name name, column_name name, "
        "privilege_type text, is_grantable text"
    ),
    "domains": _cols("domain_catalog name, domain_schema name, domain_name name, data_type text"),
    "element_types": _cols(
        "object_catalog name, object_schema name, object_name name, object_type text, collection_type_identifier name, "
        "data_type text"
    ),
    "user_defined_types": _cols("user_defined_type_catalog name, user_defined_type_schema name, user_defined_type_name name"),
    "information_schema_catalog_name": _cols("catalog_name name"),
}

# OIDs of catalog relations PostgreSQL clients know (pg_description.classoid etc.)
WELL_KNOWN_OIDS = {
    "pg_type": 1247, "pg_attribute": 1249, "pg_proc": 1255, "pg_class": 1259, "pg_authid": 1260,
    "pg_database": 1262, "pg_namespace": 2615, "pg_constraint": 2606, "pg_index": 2610, "pg_description": 2609,
    "pg_am": 2601, "pg_attrdef": 2604, "pg_inherits": 2611, "pg_language": 2612, "pg_rewrite": 2618,
    "pg_trigger": 2620, "pg_tablespace": 1213, "pg_collation": 3456, "pg_shdescription": 2396,
    "pg_extension": 3079, "pg_policy": 3256, "pg_depend": 2608, "pg_cast": 2605, "pg_operator": 2617,
    "pg_enum": 3501, "pg_range": 3541, "pg_sequence": 2224, "pg_statistic_ext": 3381, "pg_publication": 6104,
    "pg_publication_rel": 6106, "pg_event_trigger": 3466, "pg_foreign_table": 3118, "pg_roles": 12001,
    "pg_settings": 12002, "pg_stat_activity": 12003,
}

# columns whose DuckDB value is a 1-based list but PostgreSQL indexes from 0
VECTOR_COLUMNS = {
    name for cols in PG_TABLES.values() for name, t in cols if t in ("int2vector", "oidvector")
}

# a result column of this name gets this PostgreSQL type (DuckDB only says BIGINT/VARCHAR)
NAMED_TYPES: dict[str, str] = {}
for _cols_ in [*PG_TABLES.values(), *SESSION_TABLES.values(), *IS_TABLES.values()]:
    for _n, _t in _cols_:
        if _t in ("oid", "name", "char", "regproc", "int2vector", "oidvector", "xid", "_aclitem", "_oid", "_int2",
                  "_text", "_char"):
            NAMED_TYPES.setdefault(_n, _t)


def duck_type(pg: str) -> str:
    """The DuckDB column type that holds a PostgreSQL type's values."""
    if pg in ("int2vector", "_int2"):
        return "SMALLINT[]"
    if pg in ("oidvector", "_oid", "_regtype"):
        return "BIGINT[]"
    if pg.startswith("_"):
        return "VARCHAR[]"
    return {
        "oid": "BIGINT", "xid": "BIGINT", "int8": "BIGINT", "int4": "INTEGER", "int2": "SMALLINT", "bool": "BOOLEAN",
        "float4": "FLOAT", "float8": "DOUBLE", "timestamptz": "TIMESTAMPTZ", "interval": "INTERVAL",
        "bytea": "BLOB", "numeric": "DECIMAL(18,3)",
    }.get(pg, "VARCHAR")


# --- rows -------------------------------------------------------------------------------------


@dataclass
class IndexInfo:
    """An index the backend has besides the primary key (from the connector or the
    backend's own catalog)."""

    name: str
    table: str
    columns: list[str]
    unique: bool = False


@dataclass
class Objects:
    """What the catalog knows besides the schema: names and OIDs assigned to it."""

    rel_oid: dict[str, int] = field(default_factory=dict)  # lower-case relation name -> oid
    rel_name: dict[int, str] = field(default_factory=dict)
    type_oid: dict[str, int] = field(default_factory=dict)  # lower-case spelling -> oid
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    helper: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


HELPER_TABLES: dict[str, str] = {
    "condef": "oid BIGINT, def VARCHAR",
    "indexdef": "oid BIGINT, def VARCHAR",
    "indexcol": "oid BIGINT, n INTEGER, name VARCHAR",
    "viewdef": "oid BIGINT, def VARCHAR",
    "typefmt": "oid BIGINT, typname VARCHAR, display VARCHAR",
    "classoids": "name VARCHAR, oid BIGINT",
}


def _type_row(t_name: str) -> tuple[Any, ...]:
    t = TYPES[t_name]
    elem = t.elem_oid
    typtype = "p" if t.category == "P" else "b"
    collation = 100 if t.category == "S" and not elem else 0
    return (t.oid, t.name, NS_CATALOG, OWNER, t.length, t.byval, typtype, t.category,
            t.name in ("bool", "text", "float8", "oid", "timestamptz", "interval"), True, ",", 0,
            "array_subscript_handler" if elem else "-", elem, t.array_oid, t.input_fn, t.output_fn,
            t.input_fn.replace("in", "recv", 1) if not elem else "array_recv",
            t.output_fn.replace("out", "send", 1) if not elem else "array_send", "-", "-", "-", t.align,
            "p" if t.length > 0 else ("m" if t.name == "numeric" else "x"), False, 0, -1, 0, collation, None, None,
            None)


@dataclass
class ConstraintNames:
    """Constraint names the backend keeps (SQLite's ``CONSTRAINT name`` clauses); the
    others get PostgreSQL's defaults (``Album_pkey``, ``Album_ArtistId_fkey``)."""

    primary: dict[str, str] = field(default_factory=dict)  # lower table -> name
    foreign: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)  # (table, cols) lower -> name


def build_rows(schema: SchemaInfo, *, databases: list[str], database: str, users: list[str],
               indexes: Iterable[IndexInfo] = (), names: ConstraintNames | None = None) -> Objects:
    """All rows of the emulated catalog for one database."""
    ob = Objects()
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in [*PG_TABLES, *IS_TABLES]}
    helper: dict[str, list[tuple[Any, ...]]] = {name: [] for name in HELPER_TABLES}
    ob.rows, ob.helper = rows, helper

    rows["pg_namespace"] = [
        (NS_CATALOG, "pg_catalog", OWNER, None), (NS_TOAST, "pg_toast", OWNER, None),
        (NS_PUBLIC, "public", DB_OWNER_ROLE, None), (NS_INFO, "information_schema", OWNER, None),
    ]
    for name, t in TYPES.items():
        rows["pg_type"].append(_type_row(name))
        helper["typefmt"].append((t.oid, t.name, t.display))
        ob.type_oid[name] = t.oid
        ob.type_oid[t.display] = t.oid
    for alias, real in (("integer", "int4"), ("int", "int4"), ("bigint", "int8"), ("smallint", "int2"),
                        ("boolean", "bool"), ("varchar", "varchar"), ("real", "float4"), ("decimal", "numeric")):
        ob.type_oid[alias] = TYPES[real].oid
    rows["pg_am"] = [(2, "heap", "heap_tableam_handler", "t"), (403, "btree", "bthandler", "i"),
                     (405, "hash", "hashhandler", "i")]
    rows["pg_tablespace"] = [(1663, "pg_default", OWNER, None, None), (1664, "pg_global", OWNER, None, None)]
    rows["pg_collation"] = [(100, "default", NS_CATALOG, OWNER, "d", True, -1, None, None, None, None),
                            (950, "C", NS_CATALOG, OWNER, "c", True, -1, "C", "C", None, None),
                            (951, "POSIX", NS_CATALOG, OWNER, "c", True, -1, "POSIX", "POSIX", None, None)]
    rows["pg_language"] = [(12, "internal", OWNER, False, False, 0, 0, 2246, None),
                           (13, "c", OWNER, False, False, 0, 0, 2247, None),
                           (14, "sql", OWNER, False, True, 0, 0, 2248, None),
                           (13582, "plpgsql", OWNER, True, True, 13579, 13580, 13581, None)]
    rows["pg_extension"] = [(13583, "plpgsql", OWNER, NS_CATALOG, False, "1.0", None, None)]
    rows["pg_available_extensions"] = [("plpgsql", "1.0", "1.0", "PL/pgSQL procedural language")]
    role_names = [OWNER_NAME] + [u for u in users if u != OWNER_NAME]
    for i, role in enumerate(role_names):
        oid = OWNER if i == 0 else FIRST_USER_OID - 100 + i
        rows["pg_roles"].append((role, i == 0, True, i == 0, i == 0, True, i == 0, -1, "********", None, i == 0,
                                 None, oid))
        rows["pg_authid"].append((oid, role, i == 0, True, i == 0, i == 0, True, i == 0, i == 0, -1, None, None))
        rows["pg_user"].append((role, oid, i == 0, i == 0, i == 0, i == 0, "********", None, None))
    rows["pg_roles"].append(("pg_database_owner", False, True, False, False, False, False, -1, "********", None,
                             False, None, DB_OWNER_ROLE))
    rows["pg_authid"].append((DB_OWNER_ROLE, "pg_database_owner", False, True, False, False, False, False, False, -1,
                              None, None))
    rows["enabled_roles"] = [(r,) for r in role_names]
    rows["pg_database"] = [
        (16000 + i, name, OWNER, UTF8, "c", False, True, -1, 722, 1, 1663, "C.UTF-8", "C.UTF-8", None, None, None)
        for i, name in enumerate(sorted(databases))
    ]
    rows["information_schema_catalog_name"] = [(database,)]
    rows["schemata"] = [
        (database, "information_schema", OWNER_NAME, None, None, None, None),
        (database, "pg_catalog", OWNER_NAME, None, None, None, None),
        (database, "public", "pg_database_owner", None, None, None, None),
    ]
    rows["character_sets"] = [(None, None, "UTF8", "UCS", "UTF8", database, "pg_catalog", "C.UTF-8")]
    for name, oid in WELL_KNOWN_OIDS.items():
        helper["classoids"].append((name, oid))

    rows["pg_description"].append((NS_PUBLIC, 2615, 0, "standard public schema"))
    _user_objects(schema, ob, database=database, indexes=list(indexes), names=names or ConstraintNames())
    _catalog_relations(ob)
    return ob


def _user_objects(schema: SchemaInfo, ob: Objects, *, database: str, indexes: list[IndexInfo],
                  names: ConstraintNames) -> None:
    rows, helper = ob.rows, ob.helper
    next_oid = FIRST_USER_OID
    tables = sorted(schema.tables, key=lambda t: t.name)
    table_oid: dict[str, int] = {}
    pk_index: dict[str, tuple[int, str]] = {}
    for t in tables:
        table_oid[t.name.lower()] = next_oid
        next_oid += 3  # the table, its row type, its array type (as PostgreSQL assigns them)
        if t.primary_key and t.kind == "table":
            pk_index[t.name.lower()] = (next_oid, names.primary.get(t.name.lower()) or f"{t.name}_pkey")
            next_oid += 2  # the index and its constraint
    extra_index_oid: dict[str, int] = {}
    for ix in indexes:
        extra_index_oid[ix.name] = next_oid
        next_oid += 1

    # PostgreSQL implements foreign keys with triggers on both tables; psql prints a
    # table's foreign keys only when relhastriggers says so
    with_fk = {t.name.lower() for t in tables if t.foreign_keys}
    with_fk |= {fk.ref_table.lower() for t in tables for fk in t.foreign_keys}
    for t in tables:
        oid = table_oid[t.name.lower()]
        ob.rel_oid[t.name.lower()] = oid
        ob.rel_name[oid] = t.name
        kind = "v" if t.kind == "view" else "r"
        has_index = t.name.lower() in pk_index or any(ix.table.lower() == t.name.lower() for ix in indexes)
        pages = max(1, t.row_count // 50) if t.row_count else 0
        rows["pg_class"].append(_class_row(oid, t.name, NS_PUBLIC, oid + 1, kind, len(t.columns), has_index,
                                           pages=pages, tuples=float(t.row_count if t.row_count else -1),
                                           triggers=t.name.lower() in with_fk))
        rows["pg_type"].append((oid + 1, t.name, NS_PUBLIC, OWNER, -1, False, "c", "C", False, True, ",", oid, "-",
                                0, oid + 2, "record_in", "record_out", "record_recv", "record_send", "-", "-", "-",
                                "d", "x", False, 0, -1, 0, 0, None, None, None))
        rows["pg_type"].append((oid + 2, f"_{t.name}", NS_PUBLIC, OWNER, -1, False, "b", "A", False, True, ",", 0,
                                "array_subscript_handler", oid + 1, 0, "array_in", "array_out", "array_recv",
                                "array_send", "-", "-", "array_typanalyze", "d", "x", False, 0, -1, 0, 0, None, None,
                                None))
        if t.description:
            rows["pg_description"].append((oid, 1259, 0, t.description))
        rows["tables"].append((database, "public", t.name, "VIEW" if kind == "v" else "BASE TABLE", None, None, None,
                               None, None, "YES" if kind == "r" else "NO", "NO", None))
        for priv in ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
            rows["table_privileges"].append((OWNER_NAME, OWNER_NAME, database, "public", t.name, priv, "YES",
                                             "YES" if priv == "SELECT" else "NO"))
        if kind == "r":
            rows["pg_tables"].append(("public", t.name, OWNER_NAME, None, has_index, False, t.name.lower() in with_fk,
                                      False))
            rows["pg_stat_user_tables"].append((oid, "public", t.name, 0, 0, 0, 0, 0, 0, 0, 0, t.row_count, 0, 0, 0,
                                                None, None, None, None, 0, 0, 0, 0))
        else:
            rows["pg_views"].append(("public", t.name, OWNER_NAME, None))
            rows["views"].append((database, "public", t.name, None, "NONE", "NO", "NO", "NO", "NO", "NO"))
        for n, c in enumerate(t.columns, start=1):
            _column_rows(ob, t, c, oid, n, database)

    for t in tables:
        oid = table_oid[t.name.lower()]
        if t.name.lower() in pk_index:
            ix_oid, ix_name = pk_index[t.name.lower()]
            _index_rows(ob, t, oid, ix_oid, ix_name, list(t.primary_key), unique=True, primary=True)
            nums = [_attnum(t, c) for c in t.primary_key]
            rows["pg_constraint"].append(_con_row(ix_oid + 1, ix_name, "p", oid, ix_oid, 0, nums, None))
            cols = ", ".join(quote_ident(c) for c in t.primary_key)
            helper["condef"].append((ix_oid + 1, f"PRIMARY KEY ({cols})"))
            rows["table_constraints"].append((database, "public", ix_name, database, "public", t.name, "PRIMARY KEY",
                                              "NO", "NO", "YES", None))
            for pos, pk_col in enumerate(t.primary_key, start=1):
                rows["key_column_usage"].append((database, "public", ix_name, database, "public", t.name, pk_col, pos,
                                                 None))
                rows["constraint_column_usage"].append((database, "public", t.name, pk_col, database, "public",
                                                        ix_name))
            rows["constraint_table_usage"].append((database, "public", t.name, database, "public", ix_name))
        for fk in t.foreign_keys:
            fk_name = names.foreign.get((t.name.lower(), tuple(c.lower() for c in fk.columns)))
            next_oid = _fk_rows(ob, t, fk, oid, table_oid, pk_index, next_oid, database, fk_name,
                                {x.name.lower(): x for x in tables})
    for ix in indexes:
        owner = next((x for x in tables if x.name.lower() == ix.table.lower()), None)
        if owner is None:
            continue
        _index_rows(ob, owner, table_oid[owner.name.lower()], extra_index_oid[ix.name], ix.name, ix.columns,
                    unique=ix.unique, primary=False)


def _attnum(t: TableInfo, col: str) -> int:
    low = col.lower()
    return next((i for i, c in enumerate(t.columns, start=1) if c.name.lower() == low), 0)


def _class_row(oid: int, name: str, ns: int, reltype: int, kind: str, natts: int, has_index: bool, *,
               pages: int = 0, tuples: float = -1.0, am: int = 2, triggers: bool = False) -> tuple[Any, ...]:
    return (oid, name, ns, reltype, 0, OWNER, am if kind in ("r", "i") else 0, oid if kind in ("r", "i") else 0, 0,
            pages, tuples, 0, 0, has_index, False, "p", kind, natts, 0, kind == "v", triggers, False, False, False, True,
            "d" if kind == "r" else "n", False, 0, 0, 0, None, None, None)


def _column_rows(ob: Objects, t: TableInfo, c: ColumnInfo, rel: int, num: int, database: str) -> None:
    rows = ob.rows
    pg = c.pg_type if c.pg_type in TYPES else "text"
    ty = TYPES[pg]
    typmod = typmod_of(c.type, pg)
    notnull = (not c.nullable) or c.primary_key
    collation = 100 if ty.category == "S" else 0
    storage = "p" if ty.length > 0 else ("m" if pg == "numeric" else "x")
    rows["pg_attribute"].append((rel, c.name, ty.oid, -1, ty.length, num, 1 if ty.elem_oid else 0, -1, typmod,
                                 ty.byval, ty.align, storage, "", notnull, False, False, "", "",
                                 False, True, 0, collation, None, None, None, None))
    if c.description:
        rows["pg_description"].append((rel, 1259, num, c.description))
    length = typmod - 4 if pg in ("varchar", "bpchar") and typmod > 0 else None
    precision, scale, radix = _numeric_facts(pg, typmod)
    data_type = "ARRAY" if ty.elem_oid else ty.display
    rows["columns"].append((
        database, "public", t.name, c.name, num, None, "NO" if notnull else "YES", data_type, length,
        length * 4 if length else (1073741824 if pg == "text" or (pg in ("varchar", "bpchar") and not length) else None),
        precision, radix, scale, 6 if pg in ("timestamp", "timestamptz", "time", "timetz") else (0 if pg == "date" else None),
        None, None, None, None, None, None, None, None, None, None, None, database, "pg_catalog", pg, None, None, None,
        None, str(num), "NO", "NO", None, None, None, None, None, "NO", "NEVER", None, "YES" if t.kind == "table" else "NO",
    ))


def _numeric_facts(pg: str, typmod: int) -> tuple[int | None, int | None, int | None]:
    if pg == "int2":
        return 16, 0, 2
    if pg == "int4":
        return 32, 0, 2
    if pg == "int8":
        return 64, 0, 2
    if pg == "float4":
        return 24, None, 2
    if pg == "float8":
        return 53, None, 2
    if pg == "numeric":
        if typmod > 0:
            mod = typmod - 4
            return mod >> 16, mod & 0xFFFF, 10
        return None, None, 10
    return None, None, None


def _index_rows(ob: Objects, t: TableInfo, rel: int, oid: int, name: str, columns: list[str], *, unique: bool,
                primary: bool) -> None:
    rows, helper = ob.rows, ob.helper
    ob.rel_oid[name.lower()] = oid
    ob.rel_name[oid] = name
    nums = [_attnum(t, c) for c in columns]
    rows["pg_class"].append(_class_row(oid, name, NS_PUBLIC, 0, "i", len(columns), False, am=403))
    rows["pg_index"].append((oid, rel, len(nums), len(nums), unique, False, primary, False, True, False, True, False,
                             True, True, False, nums, [0] * len(nums), [1978] * len(nums), [0] * len(nums), None, None))
    cols = ", ".join(quote_ident(c) for c in columns)
    ddl = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote_ident(name)} ON public.{quote_ident(t.name)} "
           f"USING btree ({cols})")
    helper["indexdef"].append((oid, ddl))
    for n, c in enumerate(columns, start=1):
        helper["indexcol"].append((oid, n, quote_ident(c)))
        col = t.column(c)
        ty = TYPES.get(col.pg_type if col else "text") or TYPES["text"]
        rows["pg_attribute"].append((oid, c, ty.oid, -1, ty.length, n, 0, -1, -1, ty.byval, ty.align, "p", "", False,
                                     False, False, "", "", False, True, 0, 0, None, None, None, None))
    rows["pg_indexes"].append(("public", t.name, name, None, ddl))


def _con_row(oid: int, name: str, kind: str, rel: int, index: int, frel: int, key: list[int],
             fkey: list[int] | None) -> tuple[Any, ...]:
    fk = kind == "f"
    return (oid, name, NS_PUBLIC, kind, False, False, True, rel, 0, index, 0, frel, "a" if fk else " ",
            "a" if fk else " ", "s" if fk else " ", True, 0, True, key, fkey, [96] * len(key) if fk else None,
            [96] * len(key) if fk else None, [96] * len(key) if fk else None, None, None, None)


_RI_TRIGGERS = (("a", 1654, 9, "ref"), ("a", 1655, 17, "ref"), ("c", 1644, 5, "own"), ("c", 1645, 17, "own"))


def _fk_rows(ob: Objects, t: TableInfo, fk: ForeignKey, rel: int, table_oid: dict[str, int],
             pk_index: dict[str, tuple[int, str]], next_oid: int, database: str, fk_name: str | None,
             tables: dict[str, TableInfo]) -> int:
    rows, helper = ob.rows, ob.helper
    ref_oid = table_oid.get(fk.ref_table.lower(), 0)
    name = fk_name or f"{t.name}_{'_'.join(fk.columns)}_fkey"
    ref_info = tables.get(fk.ref_table.lower())
    ref_name = ref_info.name if ref_info else fk.ref_table
    nums = [_attnum(t, c) for c in fk.columns]
    ref_cols = list(fk.ref_columns) or (list(ref_info.primary_key) if ref_info else [])
    ref_nums = [_attnum(ref_info, c) for c in ref_cols] if ref_info else list(range(1, len(ref_cols) + 1))
    pk = pk_index.get(fk.ref_table.lower())
    rows["pg_constraint"].append(_con_row(next_oid, name, "f", rel, pk[0] if pk else 0, ref_oid, nums, ref_nums))
    # the four internal triggers PostgreSQL creates for a foreign key
    for i, (side, func, tgtype, on) in enumerate(_RI_TRIGGERS, start=1):
        tg_rel, other = (ref_oid, rel) if on == "ref" else (rel, ref_oid)
        rows["pg_trigger"].append((next_oid + i, tg_rel, 0, f"RI_ConstraintTrigger_{side}_{next_oid + i}", func,
                                   tgtype, "O", True, other, pk[0] if pk else 0, next_oid, False, False, 0, [], b"",
                                   None, None, None))
    local = ", ".join(quote_ident(c) for c in fk.columns)
    remote = ", ".join(quote_ident(c) for c in ref_cols)
    helper["condef"].append((next_oid, f"FOREIGN KEY ({local}) REFERENCES {quote_ident(ref_name)}({remote})"))
    rows["table_constraints"].append((database, "public", name, database, "public", t.name, "FOREIGN KEY", "NO",
                                      "NO", "YES", None))
    rows["referential_constraints"].append((database, "public", name, database, "public",
                                            pk[1] if pk else None, "NONE", "NO ACTION", "NO ACTION"))
    for pos, c in enumerate(fk.columns, start=1):
        rows["key_column_usage"].append((database, "public", name, database, "public", t.name, c, pos, pos))
    for c in ref_cols:
        rows["constraint_column_usage"].append((database, "public", ref_name, c, database, "public", name))
    rows["constraint_table_usage"].append((database, "public", ref_name, database, "public", name))
    return next_oid + 1 + len(_RI_TRIGGERS)


def _catalog_relations(ob: Objects) -> None:
    """pg_class/pg_attribute rows for the catalog's own relations."""
    rows = ob.rows
    next_oid = 12100
    for schema_oid, tables in ((NS_CATALOG, {**PG_TABLES, **SESSION_TABLES}), (NS_INFO, IS_TABLES)):
        for name, cols in tables.items():
            oid = WELL_KNOWN_OIDS.get(name) if schema_oid == NS_CATALOG else None
            if oid is None:
                oid = next_oid
                next_oid += 1
            kind = "v" if schema_oid == NS_INFO or name in ("pg_roles", "pg_user", "pg_tables", "pg_views",
                                                            "pg_indexes", "pg_matviews", "pg_sequences",
                                                            "pg_settings", "pg_stat_activity", "pg_locks",
                                                            "pg_stat_user_tables", "pg_prepared_statements",
                                                            "pg_available_extensions", "pg_timezone_names") else "r"
            rows["pg_class"].append(_class_row(oid, name, schema_oid, 0, kind, len(cols), False))
            if schema_oid == NS_CATALOG:
                ob.rel_oid.setdefault(name, oid)
                ob.rel_oid.setdefault(f"pg_catalog.{name}", oid)
            else:
                ob.rel_oid.setdefault(f"information_schema.{name}", oid)
            ob.rel_name.setdefault(oid, name)
            for n, (col, pg) in enumerate(cols, start=1):
                ty = TYPES.get(pg) or TYPES["text"]
                rows["pg_attribute"].append((oid, col, ty.oid, -1, ty.length, n, 0, -1, -1, ty.byval, ty.align, "p",
                                             "", False, False, False, "", "", False, True, 0, 0, None, None, None,
                                             None))


def catalog_schema() -> SchemaInfo:
    """The catalog's own relations as a schema (for parameter types of catalog queries)."""
    tables = []
    for name, cols in [*PG_TABLES.items(), *SESSION_TABLES.items(), *IS_TABLES.items()]:
        tables.append(TableInfo(name, [ColumnInfo(c, t, t) for c, t in cols]))
    return SchemaInfo("pg_catalog", "duckdb", tables)


def type_display(oid: int) -> str | None:
    t = BY_OID.get(oid)
    return t.display if t else None


__all__ = ["PG_TABLES", "IS_TABLES", "SESSION_TABLES", "build_rows", "quote_ident", "format_type", "IndexInfo"]
