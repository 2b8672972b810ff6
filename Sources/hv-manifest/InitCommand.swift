// hv-manifest init: create an empty manifest (or bring an existing one up to the latest schema).
import ArgumentParser
import Foundation
import HVManifest

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a manifest, or migrate an existing one to the latest schema.")

    @Argument(help: "The manifest database file to create.")
    var database: String

    func run() throws {
        let existed = FileManager.default.fileExists(atPath: database)
        let m = try Manifest(path: database, create: true)
        let version = try m.appliedMigrations().last ?? "none"
        FileHandle.standardError.write(Data("\(existed ? "manifest up to date" : "created manifest") \(database) (schema \(version))\n".utf8))
    }
}
