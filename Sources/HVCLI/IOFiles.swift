// Input and output files for tools: `-` (or nothing) means stdin/stdout; named outputs are written to a
// temporary file beside the target and renamed into place only when the tool succeeds, so a failed
// run never leaves a partial file and never destroys what the user had.
import Foundation
import HVCore

public enum FileError: ToolReportable {
    case cannotOpen(path: String, reason: String)
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case readFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open '\(path)': \(reason)"
        case let .cannotCreate(path, reason): return "cannot create '\(path)': \(reason)"
        case let .writeFailed(path, reason): return "write to '\(path)' failed: \(reason)"
        case let .readFailed(path, reason): return "read from '\(path)' failed: \(reason)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .cannotOpen: return SysExit.noInput
        case .cannotCreate: return SysExit.cantCreate
        case .writeFailed, .readFailed: return SysExit.ioError
        }
    }
}

/// An output destination: stdout, or a named file committed atomically.
public final class OutputFile {
    public let path: String?          // nil: stdout
    public let descriptor: Int32
    private let tempPath: String?
    private var committed = false

    /// Opens `path` for writing (`nil` or `-` is stdout). Refuses to write binary data to a terminal
    /// unless `allowTerminal` is set.
    public init(_ path: String?, allowTerminal: Bool = false, what: String = "output") throws {
        if path == nil || path == "-" {
            self.path = nil
            self.tempPath = nil
            self.descriptor = STDOUT_FILENO
            if !allowTerminal && isatty(STDOUT_FILENO) == 1 {
                throw FileError.cannotCreate(path: "stdout", reason: "refusing to write \(what) to a terminal; redirect stdout or use -o FILE")
            }
            return
        }
        let (target, direct) = outputTarget(path!)
        if direct {
            // A device or a pipe (/dev/null, a FIFO): written in place; renaming over it would replace it.
            let fd = open(target, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw FileError.cannotCreate(path: path!, reason: String(cString: strerror(errno))) }
            self.path = path!
            self.tempPath = nil
            self.descriptor = fd
            return
        }
        let dir = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        removeStaleTemporaries(dir: dir, base: base)
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileError.cannotCreate(path: path!, reason: String(cString: strerror(errno))) }
        self.path = target
        self.tempPath = tmp
        self.descriptor = fd
        OutputFile.register(tmp)
    }

    public var displayName: String { path ?? "stdout" }

    /// Writes all bytes or throws.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try writeAll(descriptor, bytes, named: displayName)
    }

    public func write(_ data: [UInt8]) throws { try data.withUnsafeBytes { try write($0) } }
    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// Makes the output visible under its final name. Without this call the output is discarded.
    public func commit() throws {
        guard !committed else { return }
        committed = true
        guard let tempPath, let path else {
            if path != nil { close(descriptor) }
            return
        }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        close(descriptor)
        if rename(tempPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tempPath)
            throw FileError.cannotCreate(path: path, reason: reason)
        }
        OutputFile.unregister(tempPath)
    }

    deinit {
        guard !committed, path != nil else { return }
        close(descriptor)
        if let tempPath {
            unlink(tempPath)
            OutputFile.unregister(tempPath)
        }
    }

    // Temporary files still open when the process exits (error paths call exit()) are removed.
    nonisolated(unsafe) private static var pending = Set<String>()
    nonisolated(unsafe) private static var installed = false
    private static func register(_ p: String) {
        pending.insert(p)
        if !installed {
            installed = true
            atexit { for p in OutputFile.pending { unlink(p) } }
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig) { s in
                    for p in OutputFile.pending { unlink(p) }
                    signal(s, SIG_DFL); raise(s)
                }
            }
        }
    }
    private static func unregister(_ p: String) { pending.remove(p) }
    static func registerTemporary(_ p: String) { register(p) }
    static func unregisterTemporary(_ p: String) { unregister(p) }
}

/// Where a named output really goes: a symbolic link's target (so that the link stays a link), and whether
/// that is something other than a regular file — a device such as /dev/null, a FIFO, a socket — which is
/// written in place, because the temporary-file-and-rename used for files would replace it.
func outputTarget(_ path: String) -> (target: String, direct: Bool) {
    var target = path
    var lst = stat()
    if lstat(path, &lst) == 0 && (lst.st_mode & S_IFMT) == S_IFLNK, let real = realpath(path, nil) {
        target = String(cString: real)
        free(real)
    }
    var st = stat()
    guard stat(target, &st) == 0 else { return (target, false) }
    return (target, (st.st_mode & S_IFMT) != S_IFREG)
}

/// An input source: stdin or a named file, read in chunks.
public final class InputFile {
    public let path: String?
    public let descriptor: Int32
    private let owns: Bool

    public init(_ path: String?) throws {
        if path == nil || path == "-" {
            self.path = nil; self.descriptor = STDIN_FILENO; self.owns = false
            return
        }
        let fd = open(path!, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileError.cannotOpen(path: path!, reason: String(cString: strerror(errno))) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw FileError.cannotOpen(path: path!, reason: "is a directory")
        }
        self.path = path; self.descriptor = fd; self.owns = true
    }

    public var displayName: String { path ?? "stdin" }

    /// Reads up to `count` bytes; returns 0 at end of input.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let n = Foundation.read(descriptor, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileError.readFailed(path: displayName, reason: String(cString: strerror(errno)))
        }
    }

    deinit { if owns { close(descriptor) } }
}

/// Writes `data` to `path` (created or truncated) with POSIX calls, so that a failure is the system's one-line
/// reason ("No space left on device") under the user's name for the file, not a Foundation error dump.
public func writeFile(_ data: Data, to path: String, named: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw FileError.cannotCreate(path: named, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    try data.withUnsafeBytes { try writeAll(fd, $0, named: named) }
}

/// Writes every byte to `fd` (retrying short writes and EINTR) or throws the system's reason under `named`.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, named: String) throws {
    var off = 0
    while off < bytes.count {
        let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError.writeFailed(path: named, reason: String(cString: strerror(errno)))
        }
        off += n
    }
}

/// Removes `.<base>.tmp.<pid>[.ext]` files beside an output whose writer is gone: a tool killed with SIGKILL
/// cannot clean up after itself, so the next run for the same target does. A live process's file is kept.
func removeStaleTemporaries(dir: String, base: String) {
    let prefix = ".\(base).tmp."
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir) else { return }
    for name in names where name.hasPrefix(prefix) {
        let rest = name.dropFirst(prefix.count)
        guard let pid = Int32(rest.prefix { $0.isNumber }), pid > 0, pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { unlink((dir.isEmpty ? "" : dir + "/") + name) }
    }
}

/// A named output that a library writes by path (mp4, png): written under a temporary name in the same
/// folder and renamed into place by `commit()`; removed if the process fails first.
public final class AtomicPath {
    public let path: String
    public let temporary: String
    private var committed = false

    public init(_ path: String) {
        let (target, direct) = outputTarget(path)
        self.path = target
        if direct {   // a device or a pipe: the library writes to it directly (see OutputFile)
            temporary = target
            committed = true
            return
        }
        let dir = (target as NSString).deletingLastPathComponent
        let base = (target as NSString).lastPathComponent
        let ext = (base as NSString).pathExtension
        removeStaleTemporaries(dir: dir, base: base)
        temporary = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp.\(getpid())" + (ext.isEmpty ? "" : ".\(ext)")
        OutputFile.registerTemporary(temporary)
    }

    public func commit() throws {
        guard !committed else { return }
        committed = true
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.cannotCreate(path: path, reason: reason)
        }
        OutputFile.unregisterTemporary(temporary)
    }

    deinit { if !committed { unlink(temporary); OutputFile.unregisterTemporary(temporary) } }
}
