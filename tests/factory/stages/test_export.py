"""The exported SFT set opens in pandas, `datasets` and TRL's SFTTrainer with no glue code."""

import pandas as pd
import pytest
from fakes import recipe_for

import factory.run as factory_run


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    factory_run.run_recipe(recipe_for(tmp), progress=False)
    return tmp / "run" / "export" / "sft"


def test_pandas(sft_dir):
    df = pd.read_parquet(sft_dir)
    assert len(df) > 0 and df.messages.map(len).eq(2).all()


def test_datasets(sft_dir):
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(sft_dir / "*.parquet"), split="train")
    assert ds.num_rows == len(pd.read_parquet(sft_dir))
    assert ds[0]["completion"][0]["role"] == "assistant"
    assert ds[0]["messages"][-1]["content"] == ds[0]["completion"][0]["content"]


@pytest.mark.slow
def test_trl_sft_trainer_trains_on_the_completion_only(sft_dir, tiny_model_dir, tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    ds = datasets.load_dataset("parquet", data_files=str(sft_dir / "*.parquet"), split="train")
    trainer = SFTTrainer(
        model=str(tiny_model_dir),
        train_dataset=ds,
        args=SFTConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=2,
            per_device_train_batch_size=2,
            report_to="none",
            use_cpu=True,
            logging_steps=1,
            save_strategy="no",
        ),
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0]
    assert (labels == -100).any() and (labels != -100).any()  # prompt masked, completion trained
    result = trainer.train()
    assert result.training_loss == result.training_loss and result.training_loss > 0  # finite
