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
        let size = (try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? 0
        if existed && size > 0 {
            // A damaged file can still show a schema; saying "up to date" about it would hide the damage.
            if let damage = try Manifest(path: database, readOnly: true, allowOlder: true).damage() {
                throw ManifestError.damaged(path: database, reason: damage)
            }
        }
        let m = try Manifest(path: database, create: true)
        let version = try m.appliedMigrations().last ?? "none"
        // A 0-byte file (made by mktemp or touch) holds no manifest: one is created in it.
        FileHandle.standardError.write(Data("\(existed && size > 0 ? "manifest up to date" : "created manifest") \(database) (schema \(version))\n".utf8))
    }
}
