//! Work queues on a persisted stream (dial requests): each message goes to one consumer.
