// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), after
// LevelDB's port/thread_annotations.h. Under clang they let -Wthread-safety check at compile time
// that guarded members are touched only with their mutex held; elsewhere they expand to nothing.
#pragma once

#if defined(__clang__)
#define LMCACHE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LMCACHE_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (see core/mutex.h).
#define CAPABILITY(x) LMCACHE_THREAD_ANNOTATION(capability(x))
// An RAII type that holds a lock for its lifetime.
#define SCOPED_CAPABILITY LMCACHE_THREAD_ANNOTATION(scoped_lockable)

// The member may be read or written only with `x` held (reads: shared is enough).
#define GUARDED_BY(x) LMCACHE_THREAD_ANNOTATION(guarded_by(x))
// The data the pointer member points to is guarded by `x` (the pointer itself is not).
#define PT_GUARDED_BY(x) LMCACHE_THREAD_ANNOTATION(pt_guarded_by(x))

// The caller must hold the lock(s), exclusively or at least shared.
#define REQUIRES(...) LMCACHE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) LMCACHE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// The caller must not hold the lock(s): the function takes them itself.
#define EXCLUDES(...) LMCACHE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function takes / releases the lock(s) (with no argument: the object's own).
#define ACQUIRE(...) LMCACHE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) LMCACHE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) LMCACHE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) LMCACHE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) LMCACHE_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))

// The function returns a reference to the lock `x`.
#define RETURN_CAPABILITY(x) LMCACHE_THREAD_ANNOTATION(lock_returned(x))
// Opts one function out of the analysis; say why beside it.
#define NO_THREAD_SAFETY_ANALYSIS LMCACHE_THREAD_ANNOTATION(no_thread_safety_analysis)
