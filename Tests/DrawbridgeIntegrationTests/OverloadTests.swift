import DrawbridgeCore
import Foundation
import Testing

/// When every hash thread is busy and the queue is full, sign-in says "try again" at once (503 +
/// Retry-After) while routes that never hash stay fast; the platform's table is left as it was.
@Suite struct OverloadTests {
    @Test func saturatedHashPoolGives503WhileHealthzAnswers() async throws {
        try await TestDatabases.withPlatform { databases in
            // One thread, no queue: the second concurrent verification has nowhere to wait.
            try await LiveGateway.run(try .test(databases, hashing: HashingSettings(threads: 1, queueLimit: 0))) { browser in
                let page = try await browser.get("/login")
                let csrf = try #require(page.hiddenField("csrf"))
                let form = ["username": "carol", "password": "wrong", "csrf": csrf]
                let results = try await withThrowingTaskGroup(of: (Int, String?, Duration?).self) { group in
                    for _ in 0..<6 {
                        group.addTask { let r = try await browser.post("/login", form: form); return (r.status, r.header("Retry-After"), nil) }
                    }
                    group.addTask {
                        // Health checks while argon2 (64 MiB, t=3) keeps the one thread busy.
                        try await Task.sleep(for: .milliseconds(20))
                        var worst = Duration.zero
                        for _ in 0..<10 {
                            let start = ContinuousClock.now
                            let health = try await browser.get("/healthz")
                            worst = max(worst, ContinuousClock.now - start)
                            if health.status != 200 { return (health.status, nil, worst) }
                        }
                        return (200, nil, worst)
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let logins = results.filter { $0.2 == nil }
                #expect(logins.contains { $0.0 == 503 && $0.1 == "1" }, "some sign-ins were turned away: \(logins.map(\.0))")
                #expect(logins.contains { $0.0 == 401 }, "the admitted sign-in was still answered")
                #expect(logins.allSatisfy { [401, 503].contains($0.0) })
                let health = try #require(results.first { $0.2 != nil })
                #expect(health.0 == 200)
            }
        }
    }

    @Test func aDeadPlatformDatabaseGives503PromptlyNotAHang() async throws {
        let databases = try await TestDatabases.create()
        defer { Task { await databases.drop() } }
        var configuration = try DrawbridgeConfiguration.test(databases)
        configuration.directory.url.port = 1  // nothing listens there
        try await LiveGateway.run(configuration, directoryTimeout: .seconds(1)) { browser in
            let start = ContinuousClock.now
            let response = try await browser.signIn(username: "alice", password: PlatformFixture.password)
            #expect(response.status == 503)
            #expect(response.header("Retry-After") == "1")
            #expect(response.body.contains("temporarily unavailable"))
            #expect(ContinuousClock.now - start < .seconds(10))
            let ready = try await browser.get("/readyz")
            #expect(ready.status == 503)
            #expect(ready.body.contains("directory"))
            #expect(try await browser.get("/healthz").status == 200)
        }
    }
}
