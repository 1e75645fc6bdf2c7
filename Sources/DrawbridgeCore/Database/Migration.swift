import Crypto
import Foundation

/// One numbered SQL file from `migrations/` (`0001_sessions.sql`).
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// `0001_sessions`: how the CLI names a migration, in the files' own NNNN_name style.
    public var numberedName: String { "\(String(format: "%04d", version))_\(name)" }

    /// SHA-256 of the file, recorded when applied, so an edited migration is noticed instead of silently skipped.
    public var checksum: String {
        SHA256.hash(data: Array(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads every `NNNN_name.sql` in a directory, sorted by number; refuses gaps in naming and duplicates.
    public static func load(from directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.directoryUnreadable(directory.path)
        }
        var migrations: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            let stem = name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError.badFileName(name)
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        return migrations
    }

    /// Where the SQL files are: `DRAWBRIDGE_MIGRATIONS_DIR`, next to the installed binary, or the source tree.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        var candidates: [URL] = []
        if let explicit = environment["DRAWBRIDGE_MIGRATIONS_DIR"] { candidates.append(URL(fileURLWithPath: explicit)) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        candidates.append(executable.appendingPathComponent("../share/drawbridge/migrations").standardized)
        candidates.append(executable.appendingPathComponent("migrations"))
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("migrations"))
        // Sources/DrawbridgeCore/Database/Migration.swift → repository root, for `swift run` and tests.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../migrations").standardized)
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("0001_sessions.sql").path) }
    }
}

public enum MigrationError: Error, Sendable, CustomStringConvertible {
    case directoryUnreadable(String)
    case badFileName(String)
    case duplicateVersion(Int)
    case notFound
    case checksumMismatch(version: Int, name: String)
    case failed(version: Int, name: String, reason: String)
    case database(String)

    public var description: String {
        switch self {
        case .directoryUnreadable(let path): "cannot read the migrations directory \(path)"
        case .badFileName(let name): "migration file '\(name)' is not named NNNN_name.sql"
        case .duplicateVersion(let version): "two migration files share the number \(version)"
        case .notFound: "cannot find the migrations directory; set DRAWBRIDGE_MIGRATIONS_DIR to the folder holding 0001_sessions.sql"
        case .checksumMismatch(let version, let name):
            "migration \(version) (\(name)) was edited after it was applied; restore the file (add a new migration instead of editing)"
        case .failed(let version, let name, let reason): "migration \(version) (\(name)) failed and was rolled back: \(reason)"
        case .database(let reason): reason
        }
    }
}
