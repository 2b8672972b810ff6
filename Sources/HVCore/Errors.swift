// Shared error contract of every HiTVideo module: each module defines its own typed error enum
// (one case per failure, a sentence a user can act on) and says which sysexits code it maps to.
// Tools print `hv-x: error: <description>` on stderr and exit with `exitCode`.

/// sysexits(3) codes used by the tools.
public enum SysExit {
    public static let ok: Int32 = 0
    /// EX_USAGE: the command was used incorrectly (bad option, bad value).
    public static let usage: Int32 = 64
    /// EX_DATAERR: the input data was malformed.
    public static let dataError: Int32 = 65
    /// EX_NOINPUT: an input file did not exist or was not readable.
    public static let noInput: Int32 = 66
    /// EX_SOFTWARE: an internal error (a bug), never bad input.
    public static let software: Int32 = 70
    /// EX_CANTCREAT: an output file cannot be created.
    public static let cantCreate: Int32 = 73
    /// EX_IOERR: an error while reading or writing.
    public static let ioError: Int32 = 74
}

/// An error a tool reports to its user: a one-sentence description and a sysexits code.
public protocol ToolReportable: Error, CustomStringConvertible {
    var exitCode: Int32 { get }
}
