// Commands pipeline workers call to record progress: claim (atomically mark the next clip 'running'),
// done (record its token file), fail (record the error), reset (make failed or stuck clips pending again).
import ArgumentParser
import Foundation
import HVCLI
import HVManifest

struct ClaimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Mark the next pending clip running and print its line (nothing when no clip is left).",
        discussion: "A running clip whose lease has expired (its worker died) can be claimed again.")

    @OptionGroup var db: DatabaseArgument
    @OptionGroup var shardOptions: ShardOptions

    @Option(help: "Name of the worker recorded with the claim (default: host:parent-pid).")
    var worker: String?

    @Option(help: "Seconds after which the claim expires and another worker may take the clip.")
    var lease: Double = 3600

    @Option(help: "Claim only clips of this split (train or val).")
    var split: ClipSplit?

    func validate() throws {
        guard lease > 0 else { throw ValidationError("--lease must be positive.") }
    }

    func run() throws {
        guard let c = try db.open().claim(worker: defaultWorker(worker), lease: lease,
                                          shards: try shardOptions.selector(), split: split?.rawValue) else { return }
        try OutputFile(nil, allowTerminal: true).write(Data((c.line + "\n").utf8))
    }
}

struct DoneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "done", abstract: "Record a clip's token file and mark the clip done.")

    @OptionGroup var db: DatabaseArgument

    @Argument(help: "The clip id (first field of a list or claim line).")
    var clip: Int64

    @Option(help: "Path of the clip's token file (.hvt).")
    var tokenFile: String

    @Option(help: "Hash identifying the tokenizer checkpoint that made the file.")
    var tokenizerHash: String

    @Option(help: "Size of the token file in bytes (default: its size on disk).")
    var bytes: Int64?

    @Option(help: "Coded size of the tokens in bits (default: 8 × bytes).")
    var bits: Int64?

    @Option(help: "Fraction of tokens masked (0 to 1).")
    var maskedFraction: Double = 0

    @Option(help: "Name of the worker recorded with the result.")
    var worker: String?

    func validate() throws {
        guard maskedFraction >= 0 && maskedFraction <= 1 else { throw ValidationError("--masked-fraction must lie between 0 and 1.") }
        if let bytes, bytes < 0 { throw ValidationError("--bytes must not be negative.") }
        if let bits, bits < 0 { throw ValidationError("--bits must not be negative.") }
    }

    func run() throws {
        var size = bytes
        if size == nil {
            var st = stat()
            guard stat(tokenFile, &st) == 0 else {
                throw ManifestError.fileUnreadable(path: tokenFile, reason: String(cString: strerror(errno)) + "; give --bytes if the file lives elsewhere")
            }
            size = Int64(st.st_size)
        }
        try db.open().markDone(clipID: clip, worker: worker, tokenFile: TokenFileRecord(
            path: URL(fileURLWithPath: tokenFile).standardizedFileURL.path, tokenizerHash: tokenizerHash, bytes: size!, bits: bits ?? size! * 8, maskedFraction: maskedFraction))
    }
}

struct FailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a clip failed with an error message.")

    @OptionGroup var db: DatabaseArgument

    @Argument(help: "The clip id.")
    var clip: Int64

    @Option(help: "What went wrong (one line).")
    var error: String

    @Option(help: "Name of the worker recorded with the failure.")
    var worker: String?

    func run() throws {
        let line = error.split(separator: "\n").first.map(String.init) ?? ""
        try db.open().markFailed(clipID: clip, worker: worker, error: line)
    }
}

struct ResetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Make failed (or running, or all) clips pending again.")

    @OptionGroup var db: DatabaseArgument
    @OptionGroup var shardOptions: ShardOptions

    @Flag(help: "Reset failed clips (the default).")
    var failed = false
    @Flag(help: "Reset running clips (only when no worker is alive).")
    var running = false
    @Flag(help: "Reset every clip, done ones included.")
    var all = false

    func run() throws {
        var states: [String] = []
        if failed { states.append("failed") }
        if running { states.append("running") }
        if all { states = ["pending", "running", "done", "failed"] }
        if states.isEmpty { states = ["failed"] }
        let n = try db.open().reset(states: states, shards: try shardOptions.selector())
        FileHandle.standardError.write(Data("reset \(n) clips to pending\n".utf8))
    }
}
