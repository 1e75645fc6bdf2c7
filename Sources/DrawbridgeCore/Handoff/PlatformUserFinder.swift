import Foundation

/// How the service API (hand-off, sign-out) finds the user a platform backend names: by platform id, by
/// login (the configured `login_by` fields), or either — refusing, rather than guessing, when the name is
/// one user's id and another's login.
public struct PlatformUserFinder: Sendable {
    public enum Match: String, Sendable, Decodable {
        case any, id, login
    }

    /// A request body's `match`: it may be left out, but not sent as null (the API says what it accepts, exactly).
    public static func match<Key: CodingKey>(in container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Match? {
        container.contains(key) ? try container.decode(Match.self, forKey: key) : nil
    }

    let directory: any UserDirectory

    public init(directory: any UserDirectory) {
        self.directory = directory
    }

    /// The name, trimmed, if it can be a login or id at all. Control characters (NUL above all, which
    /// PostgreSQL text cannot hold) are in none.
    public static func validated(_ user: String) throws -> String {
        let name = user.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.utf8.count <= 320, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw HandoffError.invalidRequest("user must be a platform login or id: 1 to 320 bytes, no control characters")
        }
        return name
    }

    public func find(_ name: String, match: Match) async throws -> PlatformUser {
        let byID = match == .login ? nil : try await directory.user(id: name, login: name)
        let byLogin: PlatformUser?
        do {
            byLogin = match == .id ? nil : try await directory.user(matching: name)
        } catch DirectoryError.ambiguous(_, let ids) {
            throw HandoffError.ambiguousUser("'\(name)' matches several platform users by login (ids \(ids.joined(separator: ", "))); send the id with \"match\": \"id\"")
        }
        switch (byID, byLogin) {
        case (let user?, let other?) where user.id != other.id:
            throw HandoffError.ambiguousUser("'\(name)' is the id of one platform user and the login of another; send \"match\": \"id\" or \"match\": \"login\"")
        case (let user?, _), (nil, let user?):
            return user
        case (nil, nil):
            throw HandoffError.unknownUser
        }
    }
}
