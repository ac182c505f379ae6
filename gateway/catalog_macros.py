"""The DuckDB macros that stand in for PostgreSQL's catalog functions in the shadow
catalog. Each is named ``pgc_<function>`` (``pgc_tf_<function>`` for set-returning ones)
and reads the catalog tables through aliases of its own (``pgm_*``), so that an argument
like ``pg_class.oid`` is never captured by the macro's own ``pg_class``.
"""

from __future__ import annotations

import re

MACROS = """
CREATE MACRO pgc_quote_ident(p_s) AS CASE WHEN regexp_full_match(p_s, '[a-z_][a-z0-9_$]*') THEN p_s
    ELSE '"' || replace(p_s, '"', '""') || '"' END;
CREATE MACRO pgc_format_type(p_t, p_m) AS COALESCE((SELECT CASE
    WHEN p_m IS NULL OR p_m < 0 THEN pgm_f.display
    WHEN pgm_f.typname IN ('varchar', 'bpchar') THEN pgm_f.display || '(' || CAST(p_m - 4 AS VARCHAR) || ')'
    WHEN pgm_f.typname = 'numeric' THEN 'numeric(' || CAST((p_m - 4) >> 16 AS VARCHAR) || ','
        || CAST((p_m - 4) & 65535 AS VARCHAR) || ')'
    WHEN pgm_f.typname IN ('timestamp', 'timestamptz', 'time', 'timetz')
        THEN regexp_replace(pgm_f.display, ' ', '(' || CAST(p_m AS VARCHAR) || ') ')
    ELSE pgm_f.display END FROM pgx.typefmt pgm_f WHERE pgm_f.oid = p_t), CASE WHEN p_t IS NULL THEN NULL ELSE '???' END);
CREATE MACRO pgc_pg_get_userbyid(p_r) AS COALESCE((SELECT pgm_r.rolname FROM pgc.pg_roles pgm_r WHERE pgm_r.oid = p_r),
    'unknown (OID=' || CAST(p_r AS VARCHAR) || ')');
CREATE MACRO pgc_pg_table_is_visible(p_r) AS (SELECT pgm_c.relnamespace IN (11, 2200) FROM pgc.pg_class pgm_c WHERE pgm_c.oid = p_r);
CREATE MACRO pgc_pg_type_is_visible(p_r) AS (SELECT pgm_t.typnamespace IN (11, 2200) FROM pgc.pg_type pgm_t WHERE pgm_t.oid = p_r);
CREATE MACRO pgc_pg_function_is_visible(p_r) AS true;
CREATE MACRO pgc_pg_get_expr(p_e, p_r, p_p := false) AS p_e;
CREATE MACRO pgc_pg_get_constraintdef(p_c, p_p := false) AS (SELECT pgm_x.def FROM pgx.condef pgm_x WHERE pgm_x.oid = p_c);
CREATE MACRO pgc_pg_get_indexdef(p_i, p_n := 0, p_p := false) AS CASE WHEN p_n IS NULL OR p_n = 0
    THEN (SELECT pgm_x.def FROM pgx.indexdef pgm_x WHERE pgm_x.oid = p_i)
    ELSE (SELECT pgm_x.name FROM pgx.indexcol pgm_x WHERE pgm_x.oid = p_i AND pgm_x.n = p_n) END;
CREATE MACRO pgc_pg_get_viewdef(p_v, p_p := false) AS (SELECT pgm_x.def FROM pgx.viewdef pgm_x WHERE pgm_x.oid = p_v);
CREATE MACRO pgc_pg_get_triggerdef(p_t, p_p := false) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_ruledef(p_t, p_p := false) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_partkeydef(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_statisticsobjdef_columns(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_function_result(p_f) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_function_arguments(p_f) AS '';
CREATE MACRO pgc_pg_get_function_identity_arguments(p_f) AS '';
CREATE MACRO pgc_pg_get_functiondef(p_f) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_serial_sequence(p_t, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_get_partition_constraintdef(p_t) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_describe_object(p_a, p_b, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_encoding_to_char(p_e) AS CASE WHEN p_e = 6 THEN 'UTF8' WHEN p_e = 0 THEN 'SQL_ASCII' ELSE '' END;
CREATE MACRO pgc_pg_char_to_encoding(p_e) AS CASE WHEN upper(p_e) IN ('UTF8', 'UTF-8', 'UNICODE') THEN 6 ELSE -1 END;
CREATE MACRO pgc_current_schemas(p_b) AS CASE WHEN p_b THEN ['pg_catalog', 'public'] ELSE ['public'] END;
CREATE MACRO pgc_obj_description(p_o, p_c := NULL) AS (SELECT pgm_d.description FROM pgc.pg_description pgm_d
    WHERE pgm_d.objoid = p_o AND pgm_d.objsubid = 0
      AND (p_c IS NULL OR pgm_d.classoid = (SELECT pgm_x.oid FROM pgx.classoids pgm_x WHERE pgm_x.name = p_c)) LIMIT 1);
CREATE MACRO pgc_col_description(p_o, p_n) AS (SELECT pgm_d.description FROM pgc.pg_description pgm_d
    WHERE pgm_d.objoid = p_o AND pgm_d.objsubid = p_n LIMIT 1);
CREATE MACRO pgc_shobj_description(p_o, p_c) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_relation_size(p_o, p_f := 'main') AS (SELECT CAST(pgm_c.relpages AS BIGINT) * 8192 FROM pgc.pg_class pgm_c
    WHERE pgm_c.oid = p_o);
CREATE MACRO pgc_pg_table_size(p_o) AS pgc_pg_relation_size(p_o);
CREATE MACRO pgc_pg_total_relation_size(p_o) AS pgc_pg_relation_size(p_o) + 8192;
CREATE MACRO pgc_pg_indexes_size(p_o) AS CAST(8192 AS BIGINT);
CREATE MACRO pgc_pg_database_size(p_d) AS (SELECT CAST(sum(pgm_c.relpages) AS BIGINT) * 8192 + 7000000 FROM pgc.pg_class pgm_c);
CREATE MACRO pgc_pg_size_pretty(p_b) AS CASE WHEN p_b IS NULL THEN NULL
    WHEN abs(p_b) < 10240 THEN CAST(p_b AS VARCHAR) || ' bytes'
    WHEN abs(p_b) < 10485760 THEN CAST(CAST(round(p_b / 1024.0) AS BIGINT) AS VARCHAR) || ' kB'
    WHEN abs(p_b) < 10737418240 THEN CAST(CAST(round(p_b / 1048576.0) AS BIGINT) AS VARCHAR) || ' MB'
    WHEN abs(p_b) < 10995116277760 THEN CAST(CAST(round(p_b / 1073741824.0) AS BIGINT) AS VARCHAR) || ' GB'
    ELSE CAST(CAST(round(p_b / 1099511627776.0) AS BIGINT) AS VARCHAR) || ' TB' END;
CREATE MACRO pgc_pg_partition_ancestors(p_r) AS CAST(p_r AS BIGINT);
CREATE MACRO pgc_tf_pg_partition_ancestors(p_r) AS TABLE SELECT CAST(p_r AS BIGINT) AS relid, 1 AS depth;
CREATE MACRO pgc_pg_partition_root(p_r) AS CAST(p_r AS BIGINT);
CREATE MACRO pgc_pg_relation_is_publishable(p_r) AS false;
CREATE MACRO pgc_array_upper(p_a, p_d) AS CASE WHEN p_a IS NULL OR len(p_a) = 0 THEN NULL ELSE len(p_a) END;
CREATE MACRO pgc_array_lower(p_a, p_d) AS CASE WHEN p_a IS NULL OR len(p_a) = 0 THEN NULL ELSE 1 END;
CREATE MACRO pgc_regclass_out(p_r) AS COALESCE((SELECT CASE WHEN pgm_c.relnamespace IN (11, 2200)
    THEN pgc_quote_ident(pgm_c.relname) ELSE pgm_n.nspname || '.' || pgc_quote_ident(pgm_c.relname) END
    FROM pgc.pg_class pgm_c JOIN pgc.pg_namespace pgm_n ON pgm_n.oid = pgm_c.relnamespace WHERE pgm_c.oid = p_r), CAST(p_r AS VARCHAR));
CREATE MACRO pgc_regtype_out(p_t) AS COALESCE((SELECT pgm_x.display FROM pgx.typefmt pgm_x WHERE pgm_x.oid = p_t), CAST(p_t AS VARCHAR));
CREATE MACRO pgc_regnamespace_out(p_n) AS COALESCE((SELECT pgm_n.nspname FROM pgc.pg_namespace pgm_n WHERE pgm_n.oid = p_n),
    CAST(p_n AS VARCHAR));
CREATE MACRO pgc_regrole_out(p_r) AS COALESCE((SELECT pgm_r.rolname FROM pgc.pg_roles pgm_r WHERE pgm_r.oid = p_r), CAST(p_r AS VARCHAR));
CREATE MACRO pgc_regproc_out(p_p) AS CAST(p_p AS VARCHAR);
CREATE MACRO pgc_to_regclass(p_s) AS (SELECT pgm_c.oid FROM pgc.pg_class pgm_c
    WHERE lower(pgm_c.relname) = lower(trim(regexp_replace(p_s, '^(public|pg_catalog)\\.', ''), '"')) ORDER BY pgm_c.oid LIMIT 1);
CREATE MACRO pgc_to_regtype(p_s) AS (SELECT pgm_x.oid FROM pgx.typefmt pgm_x WHERE pgm_x.typname = lower(p_s) OR pgm_x.display = lower(p_s)
    ORDER BY pgm_x.oid LIMIT 1);
CREATE MACRO pgc_to_regnamespace(p_s) AS (SELECT pgm_n.oid FROM pgc.pg_namespace pgm_n WHERE pgm_n.nspname = p_s);
CREATE MACRO pgc_pg_is_other_temp_schema(p_n) AS false;
CREATE MACRO pgc_pg_collation_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_conversion_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_opclass_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_operator_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_ts_config_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_opfamily_is_visible(p_o) AS true;
CREATE MACRO pgc_getdatabaseencoding() AS 'UTF8';
CREATE MACRO pgc_pg_ts_dict_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_ts_parser_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_ts_template_is_visible(p_o) AS true;
CREATE MACRO pgc_pg_get_constraintdef_columns(p_o) AS CAST(NULL AS VARCHAR);
CREATE MACRO pgc_pg_tablespace_location(p_t) AS '';
CREATE MACRO pgc_pg_stat_get_numscans(p_o) AS CAST(0 AS BIGINT);
CREATE MACRO pgc_pg_column_is_updatable(p_r, p_n, p_c) AS true;
CREATE MACRO pgc_pg_relation_is_updatable(p_r, p_c) AS 28;
CREATE MACRO pgc__pg_expandarray(p_a) AS unnest(list_transform(range(1, len(p_a) + 1),
    lambda pgm_i: struct_pack(x := p_a[pgm_i], n := pgm_i)));
CREATE MACRO pgc_tf__pg_expandarray(p_a) AS TABLE SELECT unnest(p_a) AS x, unnest(range(1, len(p_a) + 1)) AS n;
CREATE MACRO pgc_pg_get_keywords() AS TABLE SELECT word, catcode, barelabel, catdesc, baredesc FROM pgx.keywords;
"""

PRIVILEGE_FUNCS = (
    "has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege",
    "has_function_privilege", "has_sequence_privilege", "has_any_column_privilege", "has_type_privilege",
    "has_language_privilege", "has_tablespace_privilege", "has_server_privilege",
    "has_foreign_data_wrapper_privilege", "pg_has_role",
)

SCALAR_MACROS = {m for m in re.findall(r"CREATE MACRO pgc_(\w+)\(", MACROS) if not m.startswith("tf_")}
SCALAR_MACROS |= set(PRIVILEGE_FUNCS)
SCALAR_MACROS -= {"pg_get_keywords"}
TABLE_MACROS = {"pg_partition_ancestors", "pg_get_keywords", "_pg_expandarray"}
CATALOG_TABLE_FUNCTIONS = TABLE_MACROS | {"pg_show_all_settings"}
CATALOG_FUNCTIONS = SCALAR_MACROS | TABLE_MACROS
