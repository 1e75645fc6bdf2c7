extension OAuthService: CacheInvalidationTarget {
    public func invalidate(_ invalidation: CacheInvalidation) {
        switch invalidation {
        case .token(let digest): tokenCache.remove(digest)
        case .user(let id): userCache.remove(id)
        case .client: (clients as? any CacheInvalidationTarget)?.invalidate(invalidation)
        // The session's tokens are revoked with it, and come as notices of their own.
        case .session: break
        }
    }

    public func invalidateAll() {
        tokenCache.removeAll()
        userCache.removeAll()
        (clients as? any CacheInvalidationTarget)?.invalidateAll()
    }
}
