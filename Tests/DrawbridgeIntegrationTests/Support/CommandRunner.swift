import DrawbridgeCore
import Foundation

/// Runs the built `drawbridge` executable, as an operator would.
struct CommandRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: URL {
        get throws {
            if let explicit = ProcessInfo.processInfo.environment["DRAWBRIDGE_BINARY"] { return URL(fileURLWithPath: explicit) }
            // The test bundle sits next to the products in .build/<triple>/debug.
            let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("drawbridge")
            if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
            let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../.build/debug/drawbridge").standardized
            if FileManager.default.isExecutableFile(atPath: fromSource.path) { return fromSource }
            throw TestSetupError("the drawbridge executable is not built (swift build --build-tests builds it)")
        }
    }

    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = try binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DRAWBRIDGE_") }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        return RunningTool(process: process, out: out, err: err).finish()
    }

    /// A `drawbridge` process left running, to signal; `finish()` waits for it and collects its output
    /// (both pipes read at once, so a chatty stderr cannot block the process).
    struct RunningTool {
        let process: Process
        let out: Pipe
        let err: Pipe

        func finish() -> Result {
            let group = DispatchGroup()
            nonisolated(unsafe) var stderrData = Data()
            DispatchQueue.global().async(group: group) { stderrData = err.fileHandleForReading.readDataToEndOfFile() }
            let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
        }
    }

    static func startTool(_ arguments: [String], environment: [String: String] = [:]) throws -> RunningTool {
        let process = Process()
        process.executableURL = try binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DRAWBRIDGE_") }.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return RunningTool(process: process, out: out, err: err)
    }

    /// Writes a config file for the test databases, with `edit` applied to the YAML text.
    static func writeConfig(_ databases: TestDatabases, edit: (String) -> String = { $0 }) throws -> String {
        let yaml = """
            http: { host: 127.0.0.1, port: 0 }
            public_url: https://sso.example.com
            trusted_proxies: [127.0.0.1/32]
            database: { url: "postgres://postgres@127.0.0.1:\(databases.admin.port)/\(databases.drawbridgeName)", schema: drawbridge }
            directory:
              url: "postgres://postgres@127.0.0.1:\(databases.admin.port)/\(databases.platformName)"
              table: public.accounts
              columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }
              login_by: [login, email]
            session: { cookie_name: drawbridge_session, cookie_domain: example.com, idle_timeout: 8h, absolute_timeout: 7d }
            keys: { encryption_key: "\(testKeyEncryptionKey)" }
            """
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("drawbridge-\(UUID().uuidString).yaml")
        try edit(yaml).write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Starts `drawbridge serve` on `port` and waits until `/readyz` answers 200; stderr goes to `log`.
    static func startServe(config: String, port: Int, log: Pipe, arguments: [String] = [], environment: [String: String] = [:]) async throws -> Process {
        let process = Process()
        process.executableURL = try binary
        process.arguments = ["serve", "--config", config] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DRAWBRIDGE_") }.merging(environment) { $1 }
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<150 {
            try await Task.sleep(for: .milliseconds(100))
            let probe = Browser(port: port, publicURL: try PublicURL(parsing: "http://127.0.0.1"))
            if (try? await probe.get("/readyz").status) == 200 { return process }
            if !process.isRunning { break }
        }
        if process.isRunning { process.terminate() }
        throw TestSetupError("drawbridge serve did not become ready on port \(port)")
    }

    /// Runs another program (a script of the repository, an interpreter) to its end. Output goes through
    /// files, not pipes: a daemon the program starts (Synapse) keeps inherited pipes open long after it ends.
    static func runTool(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let directory = FileManager.default.temporaryDirectory
        let outURL = directory.appendingPathComponent("tool-\(UUID().uuidString).out"), errURL = directory.appendingPathComponent("tool-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// The repository's root, for its scripts.
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..").standardized.path
    }

    /// A port nothing listens on right now (bind to 0, read, close).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestSetupError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
