DROP TABLE email_optouts;
DROP TABLE forwards;
DROP TABLE outbox;
DROP TABLE webhook_subscriptions;
