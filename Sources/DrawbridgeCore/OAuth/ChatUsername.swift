/// Derives the username chat servers see from the platform login, by one documented rule that is
/// idempotent, stable, and a fixed point of Mattermost's `CleanUsername` (so Mattermost never rewrites it
/// into its random `a<26 chars>` fallback):
///
/// 1. lowercase; spaces become `-`;
/// 2. every character outside `a-z 0-9 . - _` becomes `-`; `-` is trimmed from both ends;
/// 3. cut to 64 characters (and trimmed again);
/// 4. if the result is empty, or a name Mattermost reserves, it is `user-<numeric id>` instead.
public enum ChatUsername {
    /// Names Mattermost's CleanUsername empties or IsValidUsername rejects.
    public static let reserved: Set<String> = [
        "admin", "api", "channel", "claim", "error", "files", "help", "landing", "login", "mfa", "oauth", "plug", "plugins",
        "post", "signup", "boards", "playbooks", "all", "matterbot", "system",
    ]

    public static func derive(login: String, numericID: Int64) -> String {
        var scalars: [Character] = []
        for scalar in login.lowercased().unicodeScalars {
            let allowed = (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") || scalar == "." || scalar == "_" || scalar == "-"
            scalars.append(allowed ? Character(scalar) : "-")
        }
        var name = trimDashes(String(scalars))
        if name.count > 64 { name = trimDashes(String(name.prefix(64))) }
        if name.isEmpty || reserved.contains(name) { return "user-\(numericID)" }
        return name
    }

    private static func trimDashes(_ text: String) -> String {
        var text = Substring(text)
        while text.first == "-" { text = text.dropFirst() }
        while text.last == "-" { text = text.dropLast() }
        return String(text)
    }
}
