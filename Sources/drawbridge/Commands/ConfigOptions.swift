import ArgumentParser
import DrawbridgeCore
import Foundation
import Logging

/// `--config FILE`, shared by every command that needs the gateway's settings.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("YAML config file (or DRAWBRIDGE_CONFIG); every key may also come from DRAWBRIDGE_* variables.", valueName: "file"))
    var config: String?

    var path: String? { config ?? ProcessInfo.processInfo.environment["DRAWBRIDGE_CONFIG"] }

    /// `DRAWBRIDGE_*` variables that are no setting (a typo, most likely), as warning sentences.
    static func environmentWarnings() -> [String] {
        ConfigurationLoader().unknownEnvironmentVariables().map { "environment variable \($0) is not a Drawbridge setting; ignored" }
    }

    /// The validated configuration, or a printed list of problems and exit status 2.
    /// `warnOnStderr: false` leaves the environment warnings to the caller (serve logs them structured).
    func load(warnOnStderr: Bool = true) async throws -> DrawbridgeConfiguration {
        let loader = ConfigurationLoader()
        if warnOnStderr {
            for warning in Self.environmentWarnings() { CommandOutput.warn(warning) }
        }
        do {
            return try await loader.load(file: path)
        } catch {
            for problem in error.problems { CommandOutput.error("config: \(problem)") }
            if path == nil { CommandOutput.error("hint: pass --config drawbridge.yaml (see deploy/drawbridge.example.yaml)") }
            throw ExitCode(2)
        }
    }
}

/// Error and warning lines in one format: `drawbridge: error: what is wrong (how to fix it)`.
enum CommandOutput {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("drawbridge: error: \(message)\n".utf8))
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("drawbridge: warning: \(message)\n".utf8))
    }

    /// A typed login that matches nobody, said the same way by every command.
    static func unknownUser(_ login: String, _ directory: DirectorySettings) {
        error("no platform user matches '\(login)' (matched against: \(directory.loginBy.map(\.rawValue).joined(separator: ", ")))")
    }

    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

extension Logger {
    /// A logger for one-shot commands, whose own output already says what went wrong.
    static func quiet(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        return logger
    }
}
