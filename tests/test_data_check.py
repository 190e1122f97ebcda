import pytest
from mmengine.config import Config

from ghostdet.data_check import check_datasets, dataset_path_problems
from ghostdet.errors import DatasetNotFoundError


def coco_cfg(root, ann='annotations/train.json', img='train/'):
    dataset = dict(type='CocoDataset', data_root=str(root) + '/', ann_file=ann,
                   data_prefix=dict(img=img))
    return Config(dict(train_dataloader=dict(dataset=dataset),
                       val_dataloader=dict(dataset=dict(type='RepeatDataset', times=2,
                                                        dataset=dataset)),
                       val_evaluator=dict(type='CocoMetric',
                                          ann_file=str(root) + '/' + ann)))


def test_existing_paths_pass_and_each_missing_one_is_named(tmp_path):
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'train.json').write_text('{}')
    (tmp_path / 'train').mkdir()
    assert dataset_path_problems(coco_cfg(tmp_path)) == []
    check_datasets(coco_cfg(tmp_path))
    (tmp_path / 'annotations' / 'train.json').unlink()
    problems = dataset_path_problems(coco_cfg(tmp_path))
    # The train and the wrapped val dataset, and the evaluator, name the file.
    assert len(problems) == 3 and all('train.json' in p for p in problems)


def test_missing_root_names_path_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        check_datasets(coco_cfg(tmp_path / 'coco'))
    message = str(error.value)
    assert str(tmp_path / 'coco') in message
    assert 'train_dataloader.dataset' in message
    assert 'val_dataloader.dataset.dataset' in message  # wrapped datasets are checked
    assert '--cfg-options train_dataloader.dataset.data_root=' in message


def test_missing_annotation_and_image_folder(tmp_path):
    (tmp_path / 'annotations').mkdir()
    with pytest.raises(DatasetNotFoundError) as error:
        check_datasets(coco_cfg(tmp_path), ('train_dataloader', ))
    message = str(error.value)
    assert 'ann_file' in message and 'annotations/train.json' in message
    assert 'data_prefix.img' in message and str(tmp_path / 'train') in message


def imagenet_cfg(root):
    dataset = dict(type='ImageNet', data_root=str(root), split='train')
    return Config(dict(train_dataloader=dict(dataset=dataset)))


def test_mmpretrain_split_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        check_datasets(imagenet_cfg(tmp_path))
    message = str(error.value)
    assert str(tmp_path / 'train') in message and 'ImageNet' in message
    assert 'MS-COCO' not in message
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text('a.jpg 0\n')
    check_datasets(imagenet_cfg(tmp_path))  # a list file is enough
    (tmp_path / 'meta' / 'train.txt').unlink()
    (tmp_path / 'train').mkdir()
    check_datasets(imagenet_cfg(tmp_path))
