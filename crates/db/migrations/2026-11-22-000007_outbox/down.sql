DROP TABLE email_optouts;
DROP TABLE outbox;
DROP TABLE webhook_subscriptions;
