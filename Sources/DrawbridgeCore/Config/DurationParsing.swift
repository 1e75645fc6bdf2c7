import Foundation

/// Reads durations written the way operators write them: `90s`, `15m`, `8h`, `7d`, `1h30m`, `200ms`, or plain seconds.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(seconds) }
        var milliseconds: Int64 = 0
        var number = ""
        var sawUnit = false
        var characters = Array(trimmed)[...]
        while let character = characters.popFirst() {
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            guard let value = Int64(number) else { return nil }
            let unit: Int64
            switch character {
            case "m" where characters.first == "s":
                characters.removeFirst()
                unit = 1
            case "s": unit = 1000
            case "m": unit = 60_000
            case "h": unit = 3_600_000
            case "d": unit = 86_400_000
            case "w": unit = 7 * 86_400_000
            default: return nil
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit)
            let (sum, sumOverflow) = milliseconds.addingReportingOverflow(product)
            guard !overflow, !sumOverflow else { return nil }
            milliseconds = sum
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return .milliseconds(milliseconds)
    }
}

extension Duration {
    /// Whole seconds, for SQL intervals and cookie Max-Age.
    public var wholeSeconds: Int64 { components.seconds }

    /// Seconds with the fraction, for SQL intervals shorter than a second and for reports.
    public var fractionalSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
