package memory

// WatchQueue is how many changes a watcher may fall behind.
const WatchQueue = watchQueue
