import Dispatch
import Foundation

extension CommandRunner {
    /// `runTool` on a Dispatch thread: waiting for a long program there leaves Swift's cooperative threads
    /// (two on a two-core machine) to the in-process gateway the program is talking to.
    static func runToolInBackground(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Swift.Result { try runTool(executable, arguments, environment: environment) })
            }
        }
    }
}
