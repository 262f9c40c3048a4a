"""Fine-tune the sentiment classifier (runs on the training cluster)."""
from transformers import AutoModelForSequenceClassification, Trainer


def main():
    model = AutoModelForSequenceClassification.from_pretrained("distilbert/distilbert-base-uncased", num_labels=2)
    Trainer(model=model).train()


if __name__ == "__main__":
    main()
