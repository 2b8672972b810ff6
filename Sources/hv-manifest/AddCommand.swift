// hv-manifest add: register videos (from a folder, by extension, or from a CSV/JSONL metadata file with
// captions), hash them (SHA-256, streamed), probe them with ffprobe, and cut them into clips: consecutive
// --clip-seconds windows (default 8 s = 64 frames at 8 fps); a last partial window is kept if ≥ --min-seconds.
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add videos (and their captions) from a folder or a metadata file.",
        discussion: """
            --dir adds every video file below DIR (a caption may sit beside it as NAME.txt); keys are paths relative to DIR.
            --metadata reads CSV (header row) or JSONL with a path or id column and a caption column; relative paths
            resolve against the metadata file's folder (or --video-dir); a row with only an id means ID.mp4.
            Optional metadata columns source, kind, package and licence record where each video comes from; --source
            (with --kind, --package, --licence) gives one source to every video added.
            Videos already in the manifest (same key or path) are not probed again; new captions are still added.
            """)

    @OptionGroup var db: DatabaseArgument

    @Option(help: "Add every video file found below this folder.")
    var dir: String?

    @Option(help: "Add the videos listed in this .csv or .jsonl file.")
    var metadata: String?

    @Option(help: "Resolve relative metadata paths against this folder instead of the metadata file's.")
    var videoDir: String?

    @Option(help: "Metadata column holding the video path.")
    var pathColumn: String?
    @Option(help: "Metadata column holding the video id.")
    var idColumn: String?
    @Option(help: "Metadata column holding the caption.")
    var captionColumn: String?

    @Option(help: "File extensions --dir picks up (comma separated).")
    var extensions: String = "mp4,mov,mkv,webm,avi,m4v,mpg,mpeg,ogv"

    @Option(help: "Length of a clip in seconds.")
    var clipSeconds: Double = 8
    @Option(help: "Frame rate clips are sampled at (frames per clip = clip seconds × this).")
    var sampleFps: Double = 8
    @Option(help: "Keep a last, shorter clip only if it lasts at least this many seconds.")
    var minSeconds: Double = 1

    @Option(help: "Record every added video as coming from this source (a package or origin; overrides a source column).")
    var source: String?
    @Option(help: "The source's kind (e.g. real, photo, cartoon); with --source.")
    var kind: String?
    @Option(help: "The package the source's files come from; with --source.")
    var package: String?
    @Option(help: "The source's licence as it states it (e.g. CC-BY-SA-3.0); with --source.")
    var licence: String?

    @Flag(help: "Warn about and skip listed videos that do not exist, instead of stopping.")
    var skipMissing = false

    func validate() throws {
        guard (dir == nil) != (metadata == nil) else { throw ValidationError("Give exactly one of --dir and --metadata.") }
        guard clipSeconds > 0, sampleFps > 0, minSeconds >= 0 else {
            throw ValidationError("--clip-seconds and --sample-fps must be positive and --min-seconds not negative.")
        }
        if source == nil && (kind ?? package ?? licence) != nil {
            throw ValidationError("--kind, --package and --licence describe a source: give --source too.")
        }
        if let source, source.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--source must not be empty.") }
    }

    struct Entry { var key: String; var path: String; var captions: [String]; var source: String; var origin: SourceInfo? = nil }

    var givenSource: SourceInfo? { source.map { SourceInfo(name: $0, kind: kind, package: package, licence: licence) } }

    func entries() throws -> [Entry] {
        if let metadata {
            let rows = try MetadataFile.read(metadata, columns: MetadataColumns(path: pathColumn, id: idColumn, caption: captionColumn),
                                             videoDir: videoDir)
            let source = (metadata as NSString).lastPathComponent
            return rows.map { Entry(key: $0.key, path: $0.path, captions: $0.caption.map { [$0] } ?? [], source: source,
                                    origin: givenSource ?? $0.source) }
        }
        var isDir: ObjCBool = false
        guard let dir, FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ManifestError.directoryMissing(path: dir ?? "")
        }
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        let exts = Set(extensions.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var out: [Entry] = []
        let walker = FileManager.default.enumerator(atPath: root)
        var rels: [String] = []
        while let rel = walker?.nextObject() as? String {
            if exts.contains((rel as NSString).pathExtension.lowercased()) { rels.append(rel) }
        }
        for rel in rels.sorted() {
            let path = (root as NSString).appendingPathComponent(rel)
            let sidecar = (path as NSString).deletingPathExtension + ".txt"
            var captions: [String] = []
            if let text = try? String(contentsOfFile: sidecar, encoding: .utf8) {
                let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { captions.append(t) }
            }
            out.append(Entry(key: rel, path: path, captions: captions, source: "sidecar", origin: givenSource))
        }
        return out
    }

    func run() throws {
        let manifest = try db.open()
        let plan = ClipPlan(clipSeconds: clipSeconds, sampleFps: sampleFps, minSeconds: minSeconds)
        let list = try entries()
        var added = 0, clips = 0, captions = 0, present = 0, missing = 0
        let progress = Progress("add")
        for (i, e) in list.enumerated() {
            progress.update("\(i)/\(list.count) \(e.key)")
            if let id = try manifest.videoID(key: e.key, path: e.path) {
                // Already registered: no probing; only captions can be new.
                present += 1
                captions += try manifest.addCaptions(videoID: id, captions: e.captions, source: e.source)
                if let origin = e.origin { try manifest.setSource(videoID: id, origin) }
                continue
            }
            guard FileManager.default.fileExists(atPath: e.path) else {
                if skipMissing { Console.warning("hv-manifest", "skipping missing video '\(e.path)'"); missing += 1; continue }
                throw ManifestError.videoMissing(path: e.path)
            }
            let info = try VideoProbe.probe(e.path)
            let hash = try SHA256.hashFile(e.path)
            let r = try manifest.addVideo(Manifest.NewVideo(key: e.key, path: e.path, sha256: hash.hex, bytes: hash.bytes,
                                                             info: info, captions: e.captions, captionSource: e.source,
                                                             source: e.origin), plan: plan)
            if r.addedVideo { added += 1 } else { present += 1 }
            clips += r.clips; captions += r.captions
            if r.addedVideo && r.clips == 0 {
                Console.warning("hv-manifest", "'\(e.path)' lasts \(info.duration) s, shorter than --min-seconds: no clips")
            }
        }
        progress.finish()
        var msg = "added \(added) videos, \(clips) clips, \(captions) captions"
        if present > 0 { msg += "; \(present) videos already present" }
        if missing > 0 { msg += "; \(missing) missing videos skipped" }
        FileHandle.standardError.write(Data((msg + "\n").utf8))
    }
}
