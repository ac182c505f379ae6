import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

/**
 * pgjdbc against a server holding Chinook. Prints one tab-separated line per fact, e.g.
 * "prepared\t7\tPrinces of the Universe\t...". tests/test_clients_jdbc.py runs it against
 * askgres and against PostgreSQL 15 and compares.
 *
 * Usage: java -cp postgresql.jar:. ClientCheck HOST PORT DATABASE USER [PASSWORD]
 */
public class ClientCheck {
    static void out(Object... fields) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) b.append('\t');
            b.append(fields[i] == null ? "\\N" : fields[i].toString());
        }
        System.out.println(b);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
        Properties props = new Properties();
        props.setProperty("user", args[3]);
        if (args.length > 4) props.setProperty("password", args[4]);
        props.setProperty("sslmode", "disable");
        props.setProperty("ApplicationName", "askgres-jdbc-check");
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = conn.getMetaData();
            out("server", md.getDatabaseProductName(), md.getDatabaseMajorVersion());

            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT \"ArtistId\", \"Name\" FROM \"Artist\" ORDER BY \"ArtistId\" LIMIT 3")) {
                while (rs.next()) out("query", rs.getInt(1), rs.getString(2));
            }

            // pgjdbc switches to a named server-side statement (and binary results) after
            // prepareThreshold (5) executions: run it well past that.
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT \"TrackId\", \"Name\", \"Milliseconds\", \"UnitPrice\" FROM \"Track\" WHERE \"TrackId\" = ?")) {
                for (int id = 1; id <= 12; id++) {
                    ps.setInt(1, id);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            BigDecimal price = rs.getBigDecimal(4);
                            out("prepared", rs.getInt(1), rs.getString(2), rs.getLong(3),
                                price == null ? null : price.setScale(2, java.math.RoundingMode.HALF_UP).toPlainString());
                        }
                    }
                }
            }

            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT count(*) FROM \"Track\" WHERE \"GenreId\" = ? AND \"Milliseconds\" > ?")) {
                for (int i = 0; i < 8; i++) {
                    ps.setInt(1, 1 + i % 3);
                    ps.setLong(2, 200000L + i * 10000L);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        out("prepared-count", 1 + i % 3, 200000L + i * 10000L, rs.getLong(1));
                    }
                }
            }

            for (int round = 0; round < 7; round++) {
                try (PreparedStatement ps = conn.prepareStatement(
                        "SELECT \"TrackId\" > ? AS big, true AS yes, false AS no FROM \"Track\" WHERE \"TrackId\" = ?")) {
                    ps.setInt(1, 5);
                    ps.setInt(2, 3 + round);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        Object big = rs.getObject(1);
                        out("bool", 3 + round, rs.getBoolean(1), rs.getBoolean(2), rs.getBoolean(3),
                            big == null ? null : big.getClass().getSimpleName());
                    }
                }
            }

            try {
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) out("table", rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
            }
            } catch (java.sql.SQLException e) { out("error", "table", e.getMessage()); }
            try {
            try (ResultSet rs = md.getColumns(null, "public", "Track", "%")) {
                while (rs.next()) {
                    out("column", rs.getString("TABLE_NAME"), rs.getInt("ORDINAL_POSITION"), rs.getString("COLUMN_NAME"),
                        rs.getInt("DATA_TYPE"), rs.getString("TYPE_NAME"), rs.getInt("NULLABLE"));
                }
            }
            } catch (java.sql.SQLException e) { out("error", "column", e.getMessage()); }
            try {
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "Track")) {
                while (rs.next()) out("pk", rs.getString("TABLE_NAME"), rs.getString("COLUMN_NAME"), rs.getInt("KEY_SEQ"));
            }
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "PlaylistTrack")) {
                while (rs.next()) out("pk", rs.getString("TABLE_NAME"), rs.getString("COLUMN_NAME"), rs.getInt("KEY_SEQ"));
            }
            } catch (java.sql.SQLException e) { out("error", "pk", e.getMessage()); }
            try {
            try (ResultSet rs = md.getImportedKeys(null, "public", "Track")) {
                while (rs.next()) {
                    out("fk", rs.getString("FKTABLE_NAME"), rs.getString("FKCOLUMN_NAME"),
                        rs.getString("PKTABLE_NAME"), rs.getString("PKCOLUMN_NAME"), rs.getInt("KEY_SEQ"));
                }
            }
            } catch (java.sql.SQLException e) { out("error", "fk", e.getMessage()); }
            out("done");
        }
    }
}
