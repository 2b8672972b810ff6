// Dataset metadata files as Pexels-derived datasets ship them: CSV (RFC 4180, header row) or JSON Lines,
// one video per row with at least a path or id and a caption. Relative paths resolve against the
// metadata file's folder (or --video-dir); a row with only an id means the file `<id>.mp4`. Optional columns
// source, kind, package and licence (or license) say where a video comes from (schema v3).
import Foundation

public struct MetadataRow: Equatable {
    public var key: String
    public var path: String
    public var caption: String?
    public var line: Int
    public var source: SourceInfo? = nil
}

public struct MetadataColumns {
    public var path: String?
    public var id: String?
    public var caption: String?
    public init(path: String? = nil, id: String? = nil, caption: String? = nil) {
        self.path = path; self.id = id; self.caption = caption
    }

    // Column names seen in Pexels-derived and similar datasets (OpenVid, Panda-70M, WebVid style), in order of preference.
    static let pathNames = ["path", "video_path", "file", "filename", "file_name", "video", "videopath", "clip_path"]
    static let idNames = ["id", "video_id", "videoid", "key", "clip_id", "name"]
    static let captionNames = ["caption", "text", "description", "prompt", "title", "name"]
    // Provenance columns; kind, package and licence mean something only beside a source column.
    static let sourceNames = ["source"]
    static let kindNames = ["kind", "source_kind"]
    static let packageNames = ["package", "source_package"]
    static let licenceNames = ["licence", "license"]
}

public enum MetadataFile {
    /// Reads every row of a .csv or .jsonl/.ndjson file. `videoDir` (default: the file's folder) resolves relative paths.
    public static func read(_ file: String, columns: MetadataColumns = MetadataColumns(), videoDir: String? = nil) throws -> [MetadataRow] {
        let lower = file.lowercased()
        let records: [(line: Int, fields: [String: String])]
        let header: [String]
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ManifestError.metadataUnreadable(path: file, reason: FileManager.default.fileExists(atPath: file) ? "unreadable" : "no such file")
        }
        let text = String(decoding: data, as: UTF8.self)
        if lower.hasSuffix(".csv") {
            (header, records) = try parseCSV(text, file: file)
        } else if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") {
            (header, records) = try parseJSONL(text, file: file)
        } else {
            throw ManifestError.metadataFormat(path: file)
        }
        func pick(_ explicit: String?, _ names: [String], exclude: String? = nil) throws -> String? {
            if let explicit {
                guard header.contains(explicit) else {
                    throw ManifestError.metadataMissingColumn(path: file, column: explicit, available: header)
                }
                return explicit
            }
            let lowered = header.map { $0.lowercased() }
            for n in names { if let i = lowered.firstIndex(of: n), header[i] != exclude { return header[i] } }
            return nil
        }
        let pathColumn = try pick(columns.path, MetadataColumns.pathNames)
        let idColumn = try pick(columns.id, MetadataColumns.idNames, exclude: pathColumn)
        let captionColumn = try pick(columns.caption, MetadataColumns.captionNames, exclude: idColumn)
        if pathColumn == nil && idColumn == nil {
            throw ManifestError.metadataMissingColumn(path: file, column: "path", available: header)
        }
        let sourceColumn = try pick(nil, MetadataColumns.sourceNames)
        let kindColumn = try pick(nil, MetadataColumns.kindNames)
        let packageColumn = try pick(nil, MetadataColumns.packageNames)
        let licenceColumn = try pick(nil, MetadataColumns.licenceNames)
        if sourceColumn == nil && (kindColumn ?? packageColumn ?? licenceColumn) != nil {
            throw ManifestError.metadataBadRow(path: file, line: 1, reason: "a kind, package or licence column needs a source column")
        }
        // One source has one kind, package and licence: rows that disagree are a mistake in the file.
        var sources: [String: (info: SourceInfo, line: Int)] = [:]
        let base = videoDir ?? (URL(fileURLWithPath: file).deletingLastPathComponent().path)
        var rows: [MetadataRow] = []
        for (line, fields) in records {
            let id = idColumn.flatMap { fields[$0] }.map { $0.trimmingCharacters(in: .whitespaces) }
            var rel = pathColumn.flatMap { fields[$0] }.map { $0.trimmingCharacters(in: .whitespaces) }
            if rel?.isEmpty ?? true {
                guard let id, !id.isEmpty else {
                    throw ManifestError.metadataBadRow(path: file, line: line, reason: "no path and no id")
                }
                rel = id + ".mp4"
            }
            let path = rel!.hasPrefix("/") ? rel! : (base as NSString).appendingPathComponent(rel!)
            let key = (id?.isEmpty == false) ? id! : rel!
            let caption = captionColumn.flatMap { fields[$0] }.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            func value(_ column: String?) -> String? {
                guard let v = column.flatMap({ fields[$0] })?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
                return v
            }
            var source: SourceInfo?
            if let name = value(sourceColumn) {
                let info = SourceInfo(name: name, kind: value(kindColumn), package: value(packageColumn), licence: value(licenceColumn))
                if let seen = sources[name], seen.info != info {
                    throw ManifestError.metadataBadRow(path: file, line: line, reason:
                        "source '\(name)' has other kind, package or licence than on line \(seen.line)")
                }
                sources[name] = (info, line)
                source = info
            }
            rows.append(MetadataRow(key: key, path: (path as NSString).standardizingPath,
                                    caption: (caption?.isEmpty ?? true) ? nil : caption, line: line, source: source))
        }
        return rows
    }

    /// RFC 4180: comma separated, fields optionally in double quotes, "" is a quote, quoted fields may span lines.
    static func parseCSV(_ text: String, file: String) throws -> ([String], [(line: Int, fields: [String: String])]) {
        var rows: [(Int, [String])] = []
        var field = "", row: [String] = []
        var inQuotes = false, atFieldStart = true
        var line = 1, rowLine = 1
        var it = Array(text.unicodeScalars)
        if it.first == "\u{FEFF}" { it.removeFirst() }  // byte order mark
        var i = 0
        func endRow() {
            row.append(field); field = ""
            if !(row.count == 1 && row[0].isEmpty) { rows.append((rowLine, row)) }
            row = []; atFieldStart = true
        }
        while i < it.count {
            let c = it[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < it.count && it[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 }
                    else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && atFieldStart {
                inQuotes = true; atFieldStart = false
            } else if c == "," {
                row.append(field); field = ""; atFieldStart = true
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < it.count && it[i + 1] == "\n" { i += 1 }
                endRow(); line += 1; rowLine = line
            } else {
                field.unicodeScalars.append(c); atFieldStart = false
            }
            i += 1
        }
        if inQuotes { throw ManifestError.metadataBadRow(path: file, line: rowLine, reason: "unterminated quoted field") }
        if !field.isEmpty || !row.isEmpty { endRow() }
        guard let head = rows.first else { throw ManifestError.metadataBadRow(path: file, line: 1, reason: "no header row") }
        let header = head.1.map { $0.trimmingCharacters(in: .whitespaces) }
        var records: [(line: Int, fields: [String: String])] = []
        for (ln, values) in rows.dropFirst() {
            guard values.count == header.count else {
                throw ManifestError.metadataBadRow(path: file, line: ln, reason: "\(values.count) fields, header has \(header.count)")
            }
            records.append((ln, Dictionary(zip(header, values), uniquingKeysWith: { a, _ in a })))
        }
        return (header, records)
    }

    /// One JSON object per line; strings and numbers are taken as text, other values ignored.
    static func parseJSONL(_ text: String, file: String) throws -> ([String], [(line: Int, fields: [String: String])]) {
        var header: [String] = []
        var seen = Set<String>()
        var records: [(line: Int, fields: [String: String])] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineText = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if lineText.isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(lineText.utf8)) as? [String: Any] else {
                throw ManifestError.metadataBadRow(path: file, line: n + 1, reason: "not a JSON object")
            }
            var fields: [String: String] = [:]
            for (k, v) in obj {
                if let s = v as? String { fields[k] = s }
                else if let num = v as? NSNumber { fields[k] = num.stringValue }
                else { continue }
                if seen.insert(k).inserted { header.append(k) }
            }
            records.append((n + 1, fields))
        }
        return (header, records)
    }
}
