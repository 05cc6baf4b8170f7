DROP TABLE email_optouts;
DROP TABLE forwards;
DROP TABLE outbox;
DROP TABLE area_alerts;
DROP TABLE webhook_subscriptions;
