"""The relations of the emulated ``pg_catalog`` and ``information_schema``, declared once
with PostgreSQL 15's column names and types; :mod:`gateway.catalog_data` fills them."""

from __future__ import annotations

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
    "pg_opfamily": _cols("oid oid, opfmethod oid, opfname name, opfnamespace oid, opfowner oid"),
    "pg_ts_config": _cols("oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid"),
    "pg_ts_dict": _cols("oid oid, dictname name, dictnamespace oid, dictowner oid, dicttemplate oid, dictinitoption text"),
    "pg_ts_parser": _cols("oid oid, prsname name, prsnamespace oid, prsstart regproc, prstoken regproc, prsend regproc, "
                          "prsheadline regproc, prslextype regproc"),
    "pg_ts_template": _cols("oid oid, tmplname name, tmplnamespace oid, tmplinit regproc, tmpllexize regproc"),
    "pg_largeobject_metadata": _cols("oid oid, lomowner oid, lomacl _aclitem"),
    "pg_default_acl": _cols("oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl _aclitem"),
    "pg_init_privs": _cols("objoid oid, classoid oid, objsubid int4, privtype char, initprivs _aclitem"),
    "pg_seclabel": _cols("objoid oid, classoid oid, objsubid int4, provider text, label text"),
    "pg_aggregate": _cols("aggfnoid regproc, aggkind char, aggnumdirectargs int2, aggtransfn regproc, "
                          "aggfinalfn regproc, aggtranstype oid, agginitval text"),
    "pg_user_mapping": _cols("oid oid, umuser oid, umserver oid, umoptions _text"),
    "pg_db_role_setting": _cols("setdatabase oid, setrole oid, setconfig _text"),
    "pg_transform": _cols("oid oid, trftype oid, trflang oid, trffromsql regproc, trftosql regproc"),
    "pg_stat_database": _cols("datid oid, datname name, numbackends int4, xact_commit int8, xact_rollback int8, "
                              "blks_read int8, blks_hit int8, tup_returned int8, tup_fetched int8, "
                              "tup_inserted int8, tup_updated int8, tup_deleted int8"),
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
# asyncpg's type introspection reads these as oid and oid[]: it decodes oid[] and text[]
# before it knows any other array type (bigint[] would send it introspecting again, forever)
NAMED_TYPES.update({"attrtypoids": "_oid", "basetype": "oid", "elemtype": "oid", "range_subtype": "oid"})


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
