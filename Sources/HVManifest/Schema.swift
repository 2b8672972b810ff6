// The manifest's SQL schema and its migrations (GRDB DatabaseMigrator, named v1, v2, ...).
// formats/manifest.md quotes every statement below verbatim; ManifestSchemaTests keeps the two in step.
// Rule: a released migration is never edited; a change is a new migration appended to `migrations`.
import Foundation
import GRDB

public enum ManifestSchema {
    /// v1 — sources: videos, clips, captions and caption embeddings.
    public static let v1: [String] = [
        """
        CREATE TABLE video (
          id INTEGER PRIMARY KEY,
          key TEXT NOT NULL UNIQUE,
          path TEXT NOT NULL UNIQUE,
          sha256 TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          duration REAL NOT NULL,
          fps REAL NOT NULL,
          width INTEGER NOT NULL,
          height INTEGER NOT NULL,
          frame_count INTEGER,
          added_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE clip (
          id INTEGER PRIMARY KEY,
          video_id INTEGER NOT NULL REFERENCES video(id) ON DELETE CASCADE,
          idx INTEGER NOT NULL,
          start_seconds REAL NOT NULL,
          duration_seconds REAL NOT NULL,
          sample_fps REAL NOT NULL,
          start_frame INTEGER NOT NULL,
          frame_count INTEGER NOT NULL,
          split TEXT CHECK (split IN ('train', 'val')),
          shard_key INTEGER NOT NULL,
          UNIQUE (video_id, idx)
        )
        """,
        "CREATE INDEX clip_split ON clip(split)",
        """
        CREATE TABLE caption (
          id INTEGER PRIMARY KEY,
          video_id INTEGER NOT NULL REFERENCES video(id) ON DELETE CASCADE,
          clip_id INTEGER REFERENCES clip(id) ON DELETE CASCADE,
          text TEXT NOT NULL,
          source TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX caption_unique ON caption(video_id, ifnull(clip_id, 0), text)",
        """
        CREATE TABLE caption_embedding (
          caption_id INTEGER NOT NULL REFERENCES caption(id) ON DELETE CASCADE,
          encoder TEXT NOT NULL,
          dim INTEGER NOT NULL CHECK (dim > 0),
          vector BLOB NOT NULL CHECK (length(vector) = 4 * dim),
          created_at TEXT NOT NULL,
          PRIMARY KEY (caption_id, encoder)
        )
        """,
    ]

    /// v2 — pretokenization: per-clip processing status, token files and shards.
    /// Existing clips get a 'pending' status row.
    public static let v2: [String] = [
        """
        CREATE TABLE clip_status (
          clip_id INTEGER PRIMARY KEY REFERENCES clip(id) ON DELETE CASCADE,
          state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
          worker TEXT,
          attempts INTEGER NOT NULL DEFAULT 0,
          lease_until REAL,
          updated_at TEXT NOT NULL,
          error TEXT
        )
        """,
        "CREATE INDEX clip_status_state ON clip_status(state)",
        """
        CREATE TABLE shard (
          id INTEGER PRIMARY KEY,
          path TEXT NOT NULL UNIQUE,
          tokenizer_hash TEXT NOT NULL,
          split TEXT CHECK (split IN ('train', 'val')),
          clip_count INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE token_file (
          clip_id INTEGER NOT NULL REFERENCES clip(id) ON DELETE CASCADE,
          tokenizer_hash TEXT NOT NULL,
          path TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          bits INTEGER NOT NULL,
          masked_fraction REAL NOT NULL CHECK (masked_fraction >= 0 AND masked_fraction <= 1),
          shard_id INTEGER REFERENCES shard(id) ON DELETE SET NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (clip_id, tokenizer_hash)
        )
        """,
        """
        INSERT INTO clip_status (clip_id, state, updated_at)
          SELECT id, 'pending', strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM clip
        """,
    ]

    /// v3 — provenance: where each video comes from (the package or origin it was taken from, and its licence).
    /// Existing videos keep a NULL source.
    public static let v3: [String] = [
        """
        CREATE TABLE source (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          kind TEXT,
          package TEXT,
          licence TEXT
        )
        """,
        "ALTER TABLE video ADD COLUMN source_id INTEGER REFERENCES source(id) ON DELETE SET NULL",
        "CREATE INDEX video_source ON video(source_id)",
    ]

    /// All migrations, oldest first. Names are what GRDB records in `grdb_migrations`.
    public static let migrations: [(name: String, statements: [String])] = [("v1", v1), ("v2", v2), ("v3", v3)]

    public static var latestVersion: String { migrations.last!.name }

    /// The migrator that brings any older manifest up to date.
    public static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, statements) in migrations {
            migrator.registerMigration(name) { db in
                for sql in statements { try db.execute(sql: sql) }
            }
        }
        return migrator
    }
}
