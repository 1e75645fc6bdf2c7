import DrawbridgeCore
import Foundation
import Testing

@Suite struct DurationParserTests {
    @Test(arguments: [("90s", 90), ("15m", 900), ("8h", 28800), ("7d", 604800), ("1h30m", 5400), ("3600", 3600), ("2w", 1_209_600)])
    func parses(_ text: String, _ seconds: Int64) async throws {
        let loaded = try await ConfigurationLoader(environment: [
            "DRAWBRIDGE_PUBLIC_URL": "http://127.0.0.1:8080",
            "DRAWBRIDGE_DATABASE_URL": "postgres://d@127.0.0.1/d",
            "DRAWBRIDGE_DIRECTORY_URL": "postgres://p@127.0.0.1/p",
            "DRAWBRIDGE_DIRECTORY_TABLE": "accounts",
            "DRAWBRIDGE_SESSION_ABSOLUTE_TIMEOUT": "30d",
            "DRAWBRIDGE_SESSION_IDLE_TIMEOUT": text,
        ]).load(file: nil)
        #expect(loaded.session.idleTimeout == .seconds(seconds))
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [("200ms", Duration.milliseconds(200)), ("1s500ms", .milliseconds(1500)), ("2m", .seconds(120)), ("0s", .zero)])
    func readsMillisecondsAndMinutesApart(_ text: String, _ expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "ms", "5x", "1.5s", "s5"])
    func refusesWhatIsNotADuration(_ text: String) {
        #expect(DurationParser.parse(text) == nil)
    }
}
