DROP TABLE email_optouts;
DROP TABLE outbox;
