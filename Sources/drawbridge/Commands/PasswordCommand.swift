import ArgumentParser
import DrawbridgeCore
import Foundation

struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password",
        abstract: "Work with stored password hashes.",
        subcommands: [Verify.self, Hash.self]
    )

    /// Exit 0 on a match, 1 on a mismatch, 2 for an unrecognised or malformed hash.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a password (read from standard input) against a stored hash.",
            discussion: "Prints the detected format and the result. Exit status: 0 match, 1 mismatch, 2 unrecognised or malformed hash."
        )

        @Argument(help: "The stored hash, exactly as the platform's table holds it (quote it for the shell).")
        var hash: String

        func run() async throws {
            let password = StandardInput.readPassword()
            switch PasswordHashVerifier().verify(password: password, against: hash) {
            case .match(let format):
                print("format: \(format.displayName)\nresult: match")
            case .mismatch(let format):
                print("format: \(format.displayName)\nresult: mismatch")
                throw ExitCode(1)
            case .unrecognised(let looksLike):
                CommandOutput.error("unrecognised hash format (looks like: \(looksLike)); see the README's list of supported formats")
                throw ExitCode(2)
            case .malformed(let format, let reason):
                CommandOutput.error("malformed \(format.displayName) hash: \(reason)")
                throw ExitCode(2)
            }
        }
    }

    struct Hash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hash a password (read from standard input), e.g. for demo or test users.")

        @Option(help: "bcrypt, sha512-crypt, yescrypt, argon2id or django-pbkdf2-sha256.")
        var format: String = "bcrypt"

        @Option(help: "Work factor (bcrypt cost; rounds for the others); the format's default when omitted.")
        var cost: Int?

        func run() async throws {
            guard let parsed = PasswordHashFormat(rawValue: format) else {
                CommandOutput.error("unknown format '\(format)' (use bcrypt, sha512-crypt, yescrypt, argon2id or django-pbkdf2-sha256)")
                throw ExitCode(2)
            }
            do {
                print(try PasswordHasher().hash(StandardInput.readPassword(), format: parsed, cost: cost))
            } catch {
                CommandOutput.error("\(error)")
                throw ExitCode(2)
            }
        }
    }
}

enum StandardInput {
    /// The whole of standard input minus one trailing newline (so `echo pw |` and `printf pw |` agree).
    static func readPassword() -> String {
        var data = FileHandle.standardInput.readDataToEndOfFile()
        if data.last == 0x0a { data.removeLast() }
        if data.last == 0x0d { data.removeLast() }
        return String(decoding: data, as: UTF8.self)
    }
}
