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
            discussion: """
                Prints the detected format and the result. Exit status: 0 match, 1 mismatch, 2 unrecognised or malformed hash.

                With --json, prints {"result": ..., "format": ..., "reason": ...} with the same exit status: result is \
                match, mismatch, unrecognised or malformed; format is the format's identifier (bcrypt, \
                django-pbkdf2-sha256, …; null when unrecognised); reason says what is wrong with an unrecognised or \
                malformed hash (null otherwise).
                """
        )

        @Argument(help: "The stored hash, exactly as the platform's table holds it (quote it for the shell).")
        var hash: String

        @Flag(help: "Print JSON (keys: result, format, reason).")
        var json = false

        /// Every key is always present (null when it does not apply), so scripts can rely on the shape.
        struct Output: Encodable {
            var result: String
            var format: PasswordHashFormat?
            var reason: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(result, forKey: .result)
                try container.encode(format, forKey: .format)
                try container.encode(reason, forKey: .reason)
            }

            enum CodingKeys: String, CodingKey {
                case result, format, reason
            }
        }

        func run() async throws {
            let verification = PasswordHashVerifier().verify(password: StandardInput.readPassword(), against: hash)
            if json {
                try CommandOutput.json(Self.output(verification))
            } else {
                printText(verification)
            }
            switch verification {
            case .match: return
            case .mismatch: throw ExitCode(1)
            case .unrecognised, .malformed: throw ExitCode(2)
            }
        }

        static func output(_ verification: PasswordVerification) -> Output {
            switch verification {
            case .match(let format): Output(result: "match", format: format)
            case .mismatch(let format): Output(result: "mismatch", format: format)
            case .unrecognised(let looksLike): Output(result: "unrecognised", reason: "looks like: \(looksLike)")
            case .malformed(let format, let reason): Output(result: "malformed", format: format, reason: reason)
            }
        }

        private func printText(_ verification: PasswordVerification) {
            switch verification {
            case .match(let format):
                print("format: \(format.displayName)\nresult: match")
            case .mismatch(let format):
                print("format: \(format.displayName)\nresult: mismatch")
            case .unrecognised(let looksLike):
                CommandOutput.error("unrecognised hash format (looks like: \(looksLike)); see the README's list of supported formats")
            case .malformed(let format, let reason):
                CommandOutput.error("malformed \(format.displayName) hash: \(reason)")
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
